/*-------------------------------------------------------------------------
 *
 * utility.c
 *	  phleet's ProcessUtility hook: COPY FROM into governed tables and
 *	  holdable cursors.
 *
 * - COPY ... FROM STDIN into a governed table is run by copy.c.
 * - DECLARE ... WITH HOLD is refused while a controller context entered with
 *   phleet.enter()/enter_token() is in force: a holdable cursor keeps its
 *   rows after the transaction ends, and with it the context that chose
 *   them, so behind a transaction-mode pooler the next client of the same
 *   server connection could fetch them.
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"

#include "nodes/parsenodes.h"
#include "tcop/utility.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

static void phleet_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
								  bool readOnlyTree, ProcessUtilityContext context,
								  ParamListInfo params, QueryEnvironment *queryEnv,
								  DestReceiver *dest, QueryCompletion *qc);

/*
 * Install the hook.
 */
void
UtilityInit(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = phleet_ProcessUtility;
}

/*
 * Intercept the statements above; pass everything else on unchanged.
 */
static void
phleet_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					  bool readOnlyTree, ProcessUtilityContext context,
					  ParamListInfo params, QueryEnvironment *queryEnv,
					  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, CopyStmt) && phleet_copy_from(pstmt, queryString, qc))
		return;

	if (IsA(parsetree, DeclareCursorStmt) &&
		(((DeclareCursorStmt *) parsetree)->options & CURSOR_OPT_HOLD) &&
		phleet_context_entered() != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_CURSOR_DEFINITION),
				 errmsg("cannot declare a WITH HOLD cursor in an entered controller context"),
				 errdetail("A holdable cursor outlives the transaction, and with it the context that chose its rows."),
				 errhint("Declare the cursor WITHOUT HOLD and fetch from it before the transaction ends.")));

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}
