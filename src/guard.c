/*-------------------------------------------------------------------------
 *
 * guard.c
 *	  What row-level security leaves open, closed for governed tables:
 *	  TRUNCATE, and reads through a role that bypasses row-level security.
 *
 * - TRUNCATE ignores row-level security.  phleet's object access hook
 *   (OAT_TRUNCATE, called for every relation a TRUNCATE empties, including
 *   partitions and tables reached by CASCADE) refuses it on a governed table
 *   unless the current user has the privileges of phleet_admin.
 *
 * - A view owned by a superuser or a BYPASSRLS role, or a SECURITY DEFINER
 *   function owned by one, reads tables without their policies.  phleet's
 *   ExecutorCheckPerms hook refuses such an access to a governed table when
 *   the session's own login role does not bypass row-level security itself
 *   (if it does, it is outside phleet's model anyway).  phleet's own
 *   maintenance functions run with phleet.internal = on and are exempt, and
 *   so are foreign-key checks, which PostgreSQL runs as the table owner.
 *
 * - A foreign key checks and blocks across all rows, whatever the policies
 *   say: a role holding only the REFERENCES privilege on a governed table
 *   (GRANT ALL includes it) could point a table of its own at another
 *   controller's rows, learn which keys exist and stop those rows from ever
 *   being deleted, by their controller or by retention.  The same object
 *   access hook (OAT_POST_CREATE of a pg_constraint row) refuses a new
 *   foreign key that references a governed table unless the current user
 *   owns that table or has the privileges of phleet_admin.
 *
 * - A foreign-key action (ON DELETE CASCADE, SET NULL, ...) runs its query
 *   as the referencing table's owner with SECURITY_NOFORCE_RLS, under which
 *   a table's owner bypasses FORCE ROW LEVEL SECURITY; PostgreSQL leaves
 *   that flag set for everything the action runs: the referencing table's
 *   triggers, defaults and CHECK constraints.  An application role that owns
 *   a referencing table (a temporary one is enough) could then read or
 *   delete every controller's rows through a view or SECURITY DEFINER
 *   function owned by the governed table's owner, and the owner's own
 *   triggers on a referencing table read every controller's rows.  phleet's
 *   fmgr hook clears the flag for the duration of every function in a
 *   procedural language and every SECURITY DEFINER function (they then read
 *   filtered).  For what remains (SQL functions, left to the planner's
 *   inlining, and C functions such as query_to_xml()), its planner hook
 *   refuses, while the flag is set, a governed table that a view makes
 *   readable without row-level security, and, flag or not, a governed table
 *   whose policies should apply but whose query was rewritten without them
 *   (a statement prepared inside the action and run after it).  The foreign
 *   key's own queries name the tables directly and pass.
 *
 * - The planner estimates rows from a column's most-common values and
 *   histogram even where row-level security hides the rows they were
 *   sampled from (PostgreSQL allows it for leakproof operators such as text
 *   "=" and "<"): EXPLAIN's estimates would confirm a guessed value of
 *   another controller, and a search over "<" would read common values and
 *   histogram bounds back.  While phleet.hide_statistics is on (superuser
 *   setting), phleet's relation and index statistics hooks give the planner,
 *   for a governed table whose policies apply (and for phleet's own tables
 *   with row-level security), only what reveals no value: null fraction,
 *   width, number of distinct values and correlation.
 *
 * The hooks keep the normal path cheap: a query whose relations are all
 * checked as the session user costs one pass over its range table, and
 * planning one syscache look-up per relation.
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_statistic.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/planner.h"
#include "rewrite/rowsecurity.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/selfuncs.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

static ExecutorCheckPerms_hook_type prev_ExecutorCheckPerms = NULL;
static object_access_hook_type prev_object_access = NULL;
static planner_hook_type prev_planner = NULL;
static fmgr_hook_type prev_fmgr = NULL;
static needs_fmgr_hook_type prev_needs_fmgr = NULL;
static bool *fmgr_cleared = NULL;	/* per phleet_fmgr() level: flag cleared */
static int	fmgr_depth = 0;
static int	fmgr_max = 0;
static get_relation_stats_hook_type prev_relation_stats = NULL;
static get_index_stats_hook_type prev_index_stats = NULL;
static bool hide_statistics = true;

static bool phleet_ExecutorCheckPerms(List *rangeTable, bool ereport_on_violation);
static void phleet_object_access(ObjectAccessType access, Oid classId,
								 Oid objectId, int subId, void *arg);
static void guard_new_constraint(Oid conoid);
static PlannedStmt *phleet_planner(Query *parse, const char *query_string,
								   int cursorOptions, ParamListInfo boundParams);
static void phleet_fmgr(FmgrHookEventType event, FmgrInfo *flinfo, Datum *arg);
static bool phleet_needs_fmgr(Oid fn_oid);
static void guard_xact_callback(XactEvent event, void *arg);
static bool guard_noforce_rtable(List *rangeTable, bool ereport_on_violation);
static bool guard_session_exempt(void);
static bool phleet_relation_stats(PlannerInfo *root, RangeTblEntry *rte,
								  AttrNumber attnum, VariableStatData *vardata);
static bool phleet_index_stats(PlannerInfo *root, Oid indexOid,
							   AttrNumber indexattnum, VariableStatData *vardata);

/*
 * Install the hooks and phleet.hide_statistics.
 */
void
GuardInit(void)
{
	prev_ExecutorCheckPerms = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = phleet_ExecutorCheckPerms;
	prev_object_access = object_access_hook;
	object_access_hook = phleet_object_access;
	prev_planner = planner_hook;
	planner_hook = phleet_planner;
	prev_fmgr = fmgr_hook;
	fmgr_hook = phleet_fmgr;
	prev_needs_fmgr = needs_fmgr_hook;
	needs_fmgr_hook = phleet_needs_fmgr;
	RegisterXactCallback(guard_xact_callback, NULL);
	prev_relation_stats = get_relation_stats_hook;
	get_relation_stats_hook = phleet_relation_stats;
	prev_index_stats = get_index_stats_hook;
	get_index_stats_hook = phleet_index_stats;

	DefineCustomBoolVariable("phleet.hide_statistics",
							 "Keeps the planner from using sampled values of governed tables under row-level security.",
							 "When on, estimates for a governed table whose policies apply use no most-common values "
							 "or histogram, which would let EXPLAIN confirm or read back other controllers' values.",
							 &hide_statistics,
							 true,
							 PGC_SUSET,
							 0,
							 NULL,
							 NULL,
							 NULL);
}

/*
 * A session whose login role bypasses row-level security (a superuser at
 * the console, pg_cron running a superuser's job) sees every row anyway:
 * the guards leave it alone.  Not so inside a security-restricted operation
 * (phleet's purge deleting as a table's owner, pseudonymize_existing(),
 * VACUUM and ANALYZE): the code that runs there is the table owner's, on
 * the session's behalf, and is guarded like any owner's, unless that
 * owner bypasses row-level security too.
 */
static bool
guard_session_exempt(void)
{
	if (!phleet_role_bypasses_rls(GetSessionUserId()))
		return false;
	/* (a superuser's REFRESH of another superuser's materialized view) */
	return !InSecurityRestrictedOperation() || phleet_role_bypasses_rls(GetUserId());
}

/*
 * Refuse a governed relation checked as a role that bypasses row-level
 * security when the session user does not.
 */
static bool
phleet_ExecutorCheckPerms(List *rangeTable, bool ereport_on_violation)
{
	Oid			session_user = GetSessionUserId();
	Oid			userid;
	int			sec_context;
	ListCell   *lc;

	if (prev_ExecutorCheckPerms &&
		!prev_ExecutorCheckPerms(rangeTable, ereport_on_violation))
		return false;

	/*
	 * Referential-integrity queries run as the table owner with
	 * SECURITY_NOFORCE_RLS: PostgreSQL deliberately checks keys across all
	 * rows (the existence probe the README documents), so they pass.  What
	 * else runs under that flag was checked when it was planned
	 * (phleet_planner); a plan made before the action is checked again here.
	 */
	GetUserIdAndSecContext(&userid, &sec_context);
	if (sec_context & SECURITY_NOFORCE_RLS)
		return guard_noforce_rtable(rangeTable, ereport_on_violation);

	foreach(lc, rangeTable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
		Oid			checkas;

		if (rte->rtekind != RTE_RELATION || rte->requiredPerms == 0)
			continue;
		checkas = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : userid;
		if (checkas == session_user || !phleet_role_bypasses_rls(checkas))
			continue;
		if (guard_session_exempt() || phleet_internal_operation())
			return true;
		if (!phleet_relation_is_governed(rte->relid, NULL))
			continue;
		if (!ereport_on_violation)
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to bypass row-level security of governed table \"%s\"",
						get_rel_name(rte->relid)),
				 OidIsValid(rte->checkAsUser) ?
				 errdetail("The query reaches the table through a view owned by role \"%s\", which bypasses row-level security.",
						   GetUserNameFromId(checkas, false)) :
				 errdetail("The query runs as role \"%s\", which bypasses row-level security: in a SECURITY DEFINER function it owns, or in a trigger, default or check of a table it owns that a foreign-key action runs.",
						   GetUserNameFromId(checkas, false)),
				 errhint("Make the view security_invoker, or give the view, function or table an owner without SUPERUSER or BYPASSRLS.")));
	}
	return true;
}

/*
 * Refuse TRUNCATE of a governed table to all but phleet_admin.
 */
static void
phleet_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					 int subId, void *arg)
{
	if (prev_object_access)
		prev_object_access(access, classId, objectId, subId, arg);

	if (access == OAT_POST_CREATE && classId == ConstraintRelationId)
	{
		guard_new_constraint(objectId);
		return;
	}
	if (access != OAT_TRUNCATE || classId != RelationRelationId)
		return;
	if (!phleet_relation_is_governed(objectId, NULL))
		return;
	/*
	 * Both the current user and the session's login role must be admins: a
	 * SECURITY DEFINER function owned by a superuser does not lend its
	 * owner's TRUNCATE to an application session.
	 */
	if (phleet_internal_operation() ||
		(phleet_role_has_privs(GetUserId(), PHLEET_ADMIN_ROLE) &&
		 phleet_role_has_privs(GetSessionUserId(), PHLEET_ADMIN_ROLE)))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to truncate governed table \"%s\"",
					get_rel_name(objectId)),
			 errdetail("TRUNCATE ignores row-level security and would remove the rows of every controller."),
			 errhint("Delete rows inside a controller context, or ask a member of phleet_admin.")));
}

/*
 * Refuse a just-created foreign key that references a governed table the
 * current user neither owns nor administers.
 */
static void
guard_new_constraint(Oid conoid)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			confrelid = InvalidOid;
	Oid			userid = GetUserId();

	/* the row was inserted by this very command: read it with SnapshotSelf */
	rel = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_constraint_oid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(conoid));
	scan = systable_beginscan(rel, ConstraintOidIndexId, true, SnapshotSelf, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup) &&
		((Form_pg_constraint) GETSTRUCT(tup))->contype == CONSTRAINT_FOREIGN)
		confrelid = ((Form_pg_constraint) GETSTRUCT(tup))->confrelid;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(confrelid) ||
		!phleet_relation_is_governed(confrelid, NULL) ||
		pg_class_ownercheck(confrelid, userid) ||
		phleet_role_has_privs(userid, PHLEET_ADMIN_ROLE) ||
		phleet_internal_operation())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to reference governed table \"%s\" in a foreign key",
					get_rel_name(confrelid)),
			 errdetail("A foreign key sees and holds the rows of every controller."),
			 errhint("Only the table owner and members of phleet_admin may create foreign keys to a governed table; grant application roles SELECT, INSERT, UPDATE and DELETE rather than ALL.")));
}

/*
 * Were the policies of this relation left out when its query was rewritten?
 * A SELECT, UPDATE or DELETE gets them as the entry's securityQuals; an
 * INSERT or MERGE target as WITH CHECK options of the query.  Only asked of
 * entries without them (so a query rewritten with its policies costs no
 * look-up); the answer is whether row-level security applies now.
 */
static void
guard_policies_missing(Query *query, Index rti, RangeTblEntry *rte)
{
	Oid			checkas = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	ListCell   *lc;

	if (rti == query->resultRelation &&
		(query->commandType == CMD_INSERT || query->commandType == CMD_MERGE))
	{
		foreach(lc, query->withCheckOptions)
			if (lfirst_node(WithCheckOption, lc)->kind != WCO_VIEW_CHECK)
				return;
	}
	else if (rte->securityQuals != NIL)
		return;
	if (check_enable_rls(rte->relid, checkas, true) != RLS_ENABLED ||
		!phleet_relation_is_governed(rte->relid, NULL))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to read governed table \"%s\" without its row-level security",
					get_rel_name(rte->relid)),
			 errdetail("The statement was prepared inside a foreign-key action, where row-level security did not apply to role \"%s\".",
					   GetUserNameFromId(checkas, false)),
			 errhint("Prepare the statement again: DISCARD PLANS, or a new session.")));
}

/*
 * Check one query level's governed relations, then its subqueries.
 */
static bool
guard_rewritten_walker(Node *node, void *context)
{
	Query	   *query;
	ListCell   *lc;
	Index		rti = 0;

	if (node == NULL)
		return false;
	if (!IsA(node, Query))
		return expression_tree_walker(node, guard_rewritten_walker, context);
	query = (Query *) node;

	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		rti++;
		/* what the rewriter gives policies to (not ON CONFLICT's EXCLUDED) */
		if (rte->rtekind != RTE_RELATION || rte->requiredPerms == 0 ||
			(rte->relkind != RELKIND_RELATION && rte->relkind != RELKIND_PARTITIONED_TABLE))
			continue;
		guard_policies_missing(query, rti, rte);
	}
	return query_tree_walker(query, guard_rewritten_walker, context, 0);
}

/*
 * Inside a foreign-key action (SECURITY_NOFORCE_RLS), refuse a governed
 * relation that a view makes readable without row-level security: its owner
 * (or a role that bypasses row-level security) reads it unfiltered there.
 * The action's own queries name the table directly (no checkAsUser).  The
 * range table is the planned statement's, flattened: it also holds the
 * relations of SQL functions the planner inlined.
 */
static bool
guard_noforce_rtable(List *rangeTable, bool ereport_on_violation)
{
	ListCell   *lc;

	foreach(lc, rangeTable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind != RTE_RELATION || !OidIsValid(rte->checkAsUser) ||
			(rte->relkind != RELKIND_RELATION && rte->relkind != RELKIND_PARTITIONED_TABLE))
			continue;
		if (check_enable_rls(rte->relid, rte->checkAsUser, true) == RLS_ENABLED ||
			!phleet_relation_is_governed(rte->relid, NULL))
			continue;
		/* exemptions looked up only now: this runs for every foreign-key check */
		if (phleet_internal_operation() || guard_session_exempt())
			return true;
		if (!ereport_on_violation)
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to bypass row-level security of governed table \"%s\"",
						get_rel_name(rte->relid)),
				 errdetail("Inside a foreign-key action PostgreSQL lets a table's owner bypass FORCE ROW LEVEL SECURITY, and the query reaches the table through a view owned by role \"%s\".",
						   GetUserNameFromId(rte->checkAsUser, false)),
				 errhint("Read the view outside triggers, defaults and constraints that foreign-key actions fire, or make it security_invoker.")));
	}
	return true;
}

/*
 * Refuse, before planning, a governed relation whose query was rewritten
 * without the policies it is owed, and after planning, inside a foreign-key
 * action, one that a view reads without them (see the file header).  The
 * second check runs on the planned statement so that no plan of it is ever
 * cached.
 */
static PlannedStmt *
phleet_planner(Query *parse, const char *query_string, int cursorOptions,
			   ParamListInfo boundParams)
{
	bool		check = !phleet_internal_operation() && !guard_session_exempt();
	PlannedStmt *result;

	if (check)
		(void) guard_rewritten_walker((Node *) parse, NULL);
	if (prev_planner)
		result = prev_planner(parse, query_string, cursorOptions, boundParams);
	else
		result = standard_planner(parse, query_string, cursorOptions, boundParams);
	if (InNoForceRLSOperation())
		(void) guard_noforce_rtable(result->rtable, true);
	return result;
}

/*
 * Functions in a procedural language (PL/pgSQL and the like: never inlined)
 * go through the fmgr hook, so that code a foreign-key action fires does not
 * run with the action's SECURITY_NOFORCE_RLS: a table owner's audit trigger
 * on a referencing table would otherwise read every controller's rows of a
 * governed table, directly or through the owner's views, and a SECURITY
 * DEFINER function owned by the table owner likewise.  C and internal
 * functions (the foreign key's own among them) keep the flag; SQL functions
 * are left out so that the planner can still inline them.
 */
static bool
phleet_needs_fmgr(Oid fn_oid)
{
	HeapTuple	tup;
	bool		needs = false;

	if (prev_needs_fmgr && prev_needs_fmgr(fn_oid))
		return true;
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	if (HeapTupleIsValid(tup))
	{
		Oid			lang = ((Form_pg_proc) GETSTRUCT(tup))->prolang;

		needs = lang != ClanguageId && lang != INTERNALlanguageId && lang != SQLlanguageId;
		ReleaseSysCache(tup);
	}
	return needs;
}

/*
 * Clear SECURITY_NOFORCE_RLS for the duration of a function that
 * fmgr_security_definer() runs: one whose language phleet_needs_fmgr()
 * names, or any SECURITY DEFINER function.  The function then reads governed
 * tables with their policies, as outside the action.  A SECURITY DEFINER
 * function's caller context is put back by fmgr_security_definer() itself;
 * for the others the flag is set again at the end, from a stack of what the
 * starts cleared ((sub)transaction abort restores the context on error, and
 * FHET_ABORT pops).
 */
static void
phleet_fmgr(FmgrHookEventType event, FmgrInfo *flinfo, Datum *arg)
{
	Oid			userid;
	int			sec_context;

	if (event != FHET_START)
	{
		/* pop first: a previous hook that fails must not leave a level behind */
		if (fmgr_depth > 0 && fmgr_cleared[--fmgr_depth] && event == FHET_END)
		{
			GetUserIdAndSecContext(&userid, &sec_context);
			if (!(sec_context & SECURITY_NOFORCE_RLS))
				SetUserIdAndSecContext(userid, sec_context | SECURITY_NOFORCE_RLS);
		}
		if (prev_fmgr)
			prev_fmgr(event, flinfo, arg);
		return;
	}
	if (prev_fmgr)
		prev_fmgr(event, flinfo, arg);
	if (fmgr_depth == fmgr_max)
	{
		int			newmax = fmgr_max ? fmgr_max * 2 : 64;

		fmgr_cleared = fmgr_cleared ?
			repalloc(fmgr_cleared, newmax * sizeof(bool)) :
			MemoryContextAlloc(TopMemoryContext, newmax * sizeof(bool));
		fmgr_max = newmax;
	}
	GetUserIdAndSecContext(&userid, &sec_context);
	fmgr_cleared[fmgr_depth++] = (sec_context & SECURITY_NOFORCE_RLS) != 0;
	if (sec_context & SECURITY_NOFORCE_RLS)
		SetUserIdAndSecContext(userid, sec_context & ~SECURITY_NOFORCE_RLS);
}

/* every function has returned at the end of a transaction */
static void
guard_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
		fmgr_depth = 0;
}

/*
 * Are the statistics of relid, read as checkas (InvalidOid: the current
 * user), to be stripped?  A governed table is recognized by phleet's policy
 * in its relcache entry, without a catalog scan.  phleet's own tables with
 * row-level security (legal_holds, retention_rules, purge_log: each
 * controller sees its own rows) count too: their sampled values (a hold's
 * reason) would otherwise show through estimates the same way.
 */
static bool
stats_hidden(Oid relid, Oid checkas)
{
	Relation	rel;
	bool		governed = false;
	ListCell   *lc;

	if (!hide_statistics)
		return false;
	rel = RelationIdGetRelation(relid);
	if (!RelationIsValid(rel))
		return false;
	if (rel->rd_rel->relrowsecurity &&
		rel->rd_rel->relnamespace == get_namespace_oid(PHLEET_SCHEMA, true))
		governed = true;
	else if (rel->rd_rsdesc != NULL)
		foreach(lc, rel->rd_rsdesc->policies)
		{
			RowSecurityPolicy *policy = (RowSecurityPolicy *) lfirst(lc);

			if (strcmp(policy->policy_name, PHLEET_POLICY_NAME) == 0)
			{
				governed = true;
				break;
			}
		}
	RelationClose(rel);
	if (!governed || phleet_internal_operation())
		return false;
	if (!OidIsValid(checkas))
		checkas = GetUserId();
	return check_enable_rls(relid, checkas, true) == RLS_ENABLED &&
		!guard_session_exempt();
}

/*
 * The pg_statistic row of (relid, attnum, inh) into vardata (the statistics
 * hooks' contract: a tuple and the function that frees it, or no tuple),
 * copied with the kind of every slot but the correlation cleared: the
 * planner then finds no most-common values or histogram in it.
 */
static void
stats_fill(Oid relid, AttrNumber attnum, bool inh, VariableStatData *vardata)
{
	HeapTuple	tup = SearchSysCache3(STATRELATTINH, ObjectIdGetDatum(relid),
									  Int16GetDatum(attnum), BoolGetDatum(inh));
	Form_pg_statistic stats;
	int			i;

	vardata->statsTuple = NULL;
	vardata->freefunc = NULL;
	if (!HeapTupleIsValid(tup))
		return;
	vardata->statsTuple = heap_copytuple(tup);
	vardata->freefunc = heap_freetuple;
	ReleaseSysCache(tup);
	stats = (Form_pg_statistic) GETSTRUCT(vardata->statsTuple);
	for (i = 0; i < STATISTIC_NUM_SLOTS; i++)
	{
		int16	   *kind = &stats->stakind1 + i;
		Oid		   *op = &stats->staop1 + i;

		if (*kind != STATISTIC_KIND_CORRELATION)
		{
			*kind = 0;
			*op = InvalidOid;
		}
	}
}

static bool
phleet_relation_stats(PlannerInfo *root, RangeTblEntry *rte, AttrNumber attnum,
					  VariableStatData *vardata)
{
	if (prev_relation_stats && prev_relation_stats(root, rte, attnum, vardata))
		return true;
	if (rte->rtekind != RTE_RELATION || !stats_hidden(rte->relid, rte->checkAsUser))
		return false;
	stats_fill(rte->relid, attnum, rte->inh, vardata);
	return true;
}

/* an expression index's statistics sample the table's rows too */
static bool
phleet_index_stats(PlannerInfo *root, Oid indexOid, AttrNumber indexattnum,
				   VariableStatData *vardata)
{
	Oid			heapid;
	Oid			checkas = InvalidOid;
	int			i;

	if (prev_index_stats && prev_index_stats(root, indexOid, indexattnum, vardata))
		return true;
	if (!hide_statistics)
		return false;
	heapid = IndexGetRelation(indexOid, false);
	for (i = 1; i < root->simple_rel_array_size; i++)
	{
		RangeTblEntry *rte = root->simple_rte_array[i];

		if (rte != NULL && rte->rtekind == RTE_RELATION && rte->relid == heapid)
		{
			checkas = rte->checkAsUser;
			break;
		}
	}
	if (!stats_hidden(heapid, checkas))
		return false;
	stats_fill(indexOid, indexattnum, false, vardata);
	return true;
}
