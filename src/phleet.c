/*-------------------------------------------------------------------------
 *
 * phleet.c
 *	  Module entry point and helpers shared by phleet's concerns.
 *
 * phleet must be loaded through shared_preload_libraries: its setting
 * (phleet.controller) and its hooks (COPY, TRUNCATE, DECLARE, permission
 * checks) must exist in every backend before the first statement, or a
 * backend that loaded the library late would run its first statements
 * unprotected.  _PG_init therefore refuses to run anywhere else, which makes
 * CREATE EXTENSION fail with a hint in a server that did not preload it.
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"
#include "keys.h"
#include "vault.h"

#include "access/parallel.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Load-time initialization: every concern registers its settings and hooks.
 */
void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("phleet must be loaded via shared_preload_libraries"),
				 errdetail("phleet's isolation must be in force in every backend from its first statement."),
				 errhint("Add phleet to shared_preload_libraries in postgresql.conf and restart the server.")));

	ContextInit();
	KeysInit();
	NormalizeInit();
	UtilityInit();
	GuardInit();
	VaultInit();
	RetentionInit();

	/*
	 * Only now, with every phleet.* setting defined: values given for them in
	 * postgresql.conf were kept as placeholders until their definition, and a
	 * reservation made earlier would have thrown them away.
	 */
	MarkGUCPrefixReserved("phleet");
}

/*
 * Raise a trigger protocol error unless fcinfo is a BEFORE INSERT OR UPDATE
 * row trigger call of the C function behind SQL function funcname.
 */
void
phleet_check_row_trigger(FunctionCallInfo fcinfo, const char *funcname)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired BEFORE INSERT OR UPDATE FOR EACH ROW",
						funcname)));
}

/*
 * Fill in the tag of one of phleet's locks in the current database (see
 * phleet.h).
 */
void
phleet_locktag(LOCKTAG *tag, uint32 kind, uint32 key)
{
	tag->locktag_field1 = MyDatabaseId;
	tag->locktag_field2 = PHLEET_LOCK_CLASS;
	tag->locktag_field3 = key;
	tag->locktag_field4 = (uint16) kind;
	tag->locktag_type = LOCKTAG_USERLOCK;
	tag->locktag_lockmethodid = USER_LOCKMETHOD;
}

/*
 * Raise invalid_parameter_value unless handle is a valid controller handle.
 */
void
phleet_check_handle(const char *handle)
{
	if (!phleet_handle_valid(handle, strlen(handle)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid controller handle \"%s\"", handle),
				 errdetail("A controller handle is 1 to %d characters of a-z, 0-9, \"_\" and \"-\".",
						   PHLEET_HANDLE_MAXLEN)));
}

/*
 * OID of a relation in the phleet schema, or InvalidOid when missing_ok and
 * the extension (or the relation) is not there.
 */
Oid
phleet_relid(const char *relname, bool missing_ok)
{
	Oid			nsp = get_namespace_oid(PHLEET_SCHEMA, true);
	Oid			relid = InvalidOid;

	if (OidIsValid(nsp))
		relid = get_relname_relid(relname, nsp);
	if (!OidIsValid(relid) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist", PHLEET_SCHEMA, relname),
				 errhint("Is the phleet extension installed in this database?")));
	return relid;
}

/*
 * True when roleid has the privileges of the named role (false if that role
 * does not exist).
 */
bool
phleet_role_has_privs(Oid roleid, const char *rolename)
{
	Oid			target = get_role_oid(rolename, true);

	return OidIsValid(target) && has_privs_of_role(roleid, target);
}

/*
 * True when roleid is a superuser or has BYPASSRLS: row-level security never
 * applies to it, so phleet cannot protect anything from it.
 */
bool
phleet_role_bypasses_rls(Oid roleid)
{
	return superuser_arg(roleid) || has_bypassrls_privilege(roleid);
}
