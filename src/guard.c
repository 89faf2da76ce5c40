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
 * The hooks keep the normal path cheap: a query whose relations are all
 * checked as the session user costs one pass over its range table.
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"

static ExecutorCheckPerms_hook_type prev_ExecutorCheckPerms = NULL;
static object_access_hook_type prev_object_access = NULL;

static bool phleet_ExecutorCheckPerms(List *rangeTable, bool ereport_on_violation);
static void phleet_object_access(ObjectAccessType access, Oid classId,
								 Oid objectId, int subId, void *arg);
static void guard_new_constraint(Oid conoid);

/*
 * Install both hooks.
 */
void
GuardInit(void)
{
	prev_ExecutorCheckPerms = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = phleet_ExecutorCheckPerms;
	prev_object_access = object_access_hook;
	object_access_hook = phleet_object_access;
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
	 * rows (the existence probe the README documents), so they pass.
	 */
	GetUserIdAndSecContext(&userid, &sec_context);
	if (sec_context & SECURITY_NOFORCE_RLS)
		return true;

	foreach(lc, rangeTable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
		Oid			checkas;

		if (rte->rtekind != RTE_RELATION || rte->requiredPerms == 0)
			continue;
		checkas = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : userid;
		if (checkas == session_user || !phleet_role_bypasses_rls(checkas))
			continue;
		if (phleet_role_bypasses_rls(session_user) || phleet_internal_operation())
			return true;
		if (!phleet_relation_is_governed(rte->relid, NULL))
			continue;
		if (!ereport_on_violation)
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to bypass row-level security of governed table \"%s\"",
						get_rel_name(rte->relid)),
				 errdetail("The query reaches the table as role \"%s\", which bypasses row-level security, through a view or a SECURITY DEFINER function.",
						   GetUserNameFromId(checkas, false)),
				 errhint("Make the view security_invoker, or give the view or function an owner without SUPERUSER or BYPASSRLS.")));
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
