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
 * - CREATE TRIGGER on a governed table is refused to roles that hold only
 *   the TRIGGER privilege (GRANT ALL includes it): a trigger runs in every
 *   other controller's sessions, in their context, so it could copy their
 *   new rows out, or re-tag rows after the stamp trigger checked them on a
 *   COPY.  The table owner and phleet_admin may still create triggers.
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"

#include "catalog/namespace.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"

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

	if (IsA(parsetree, CreateTrigStmt))
	{
		CreateTrigStmt *stmt = (CreateTrigStmt *) parsetree;
		Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);

		if (OidIsValid(relid) &&
			phleet_relation_is_governed(relid, NULL) &&
			!pg_class_ownercheck(relid, GetUserId()) &&
			!phleet_role_has_privs(GetUserId(), PHLEET_ADMIN_ROLE) &&
			!phleet_internal_operation())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to create a trigger on governed table \"%s\"",
							get_rel_name(relid)),
					 errdetail("A trigger runs in the sessions of every controller, in their context."),
					 errhint("Only the table owner and members of phleet_admin may create triggers on a governed table; grant application roles SELECT, INSERT, UPDATE and DELETE rather than ALL.")));
	}

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}
