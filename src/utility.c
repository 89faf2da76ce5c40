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
 * - Code of a table's owner that phleet's maintenance runs as that owner
 *   (the purge's DELETEs, pseudonymize_existing()'s UPDATEs: between
 *   phleet_owner_code_begin() and _end()) may run no schema changes.  The
 *   maintenance looked for code of roles that are not superusers on the
 *   table (phleet._untrusted_code()) under a lock that keeps other sessions
 *   from adding any; an index, constraint or statistics object added by the
 *   owner's own trigger in the same transaction would run as the extension
 *   owner when phleet reads the table next.
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"

#include "catalog/namespace.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/cmdtag.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/* > 0 while phleet runs a table owner's code (phleet_owner_code_begin()) */
static int	owner_code_depth = 0;

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
 * Run what follows as owner (a table's owner) in a security-restricted
 * operation (with sec_flags added), as PostgreSQL runs maintenance on behalf
 * of a table: without phleet.internal (which switches phleet's guards off),
 * with search_path = pg_catalog, pg_temp, and no schema changes.  Settings
 * the owner's code changes (a plain SET in a trigger) are undone by
 * phleet_owner_code_end(); on error, call phleet_owner_code_cleanup() before
 * rethrowing (the abort of the (sub)transaction restores the rest).
 */
void
phleet_owner_code_begin(PhleetOwnerCode *oc, Oid owner, int sec_flags)
{
	oc->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("phleet.internal", "off", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	GetUserIdAndSecContext(&oc->save_userid, &oc->save_sec);
	SetUserIdAndSecContext(owner, oc->save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION | sec_flags);
	oc->save_depth = owner_code_depth++;
}

void
phleet_owner_code_end(PhleetOwnerCode *oc)
{
	SetUserIdAndSecContext(oc->save_userid, oc->save_sec);
	AtEOXact_GUC(false, oc->save_nestlevel);
	owner_code_depth = oc->save_depth;
}

void
phleet_owner_code_cleanup(PhleetOwnerCode *oc)
{
	owner_code_depth = oc->save_depth;
}

/*
 * Statements a table owner's code may run while phleet runs it: none that
 * changes the schema.
 */
static bool
owner_code_may_run(Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_VariableSetStmt:
		case T_VariableShowStmt:
		case T_NotifyStmt:
		case T_CallStmt:
		case T_DoStmt:
		case T_DeclareCursorStmt:
		case T_FetchStmt:
		case T_ClosePortalStmt:
		case T_LockStmt:
			return true;
		case T_ExplainStmt:
			/*
			 * Not of a utility statement: EXPLAIN ANALYZE CREATE TABLE AS
			 * (or MATERIALIZED VIEW) creates the relation without passing
			 * through ProcessUtility again.
			 */
			return castNode(Query, ((ExplainStmt *) parsetree)->query)->commandType != CMD_UTILITY;
		default:
			return false;
	}
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

	if (owner_code_depth > 0 && !owner_code_may_run(parsetree))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot run %s in a table owner's code that phleet's maintenance runs",
						GetCommandTagName(CreateCommandTag(parsetree))),
				 errdetail("phleet.purge() and phleet.pseudonymize_existing() run the table's triggers as its owner and may read the table as a superuser afterwards; they allow no schema changes meanwhile."),
				 errhint("Make schema changes outside the triggers that deleting or updating the table fires.")));

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
