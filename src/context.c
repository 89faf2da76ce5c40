/*-------------------------------------------------------------------------
 *
 * context.c
 *	  The controller context: phleet.enter, phleet.leave,
 *	  phleet.current_controller and role bindings.
 *
 * The context is who the session is acting for.  It is, in order:
 *
 *	1. the controller the session's login role is bound to (phleet.bind_role);
 *	   such a session can never act for any other controller;
 *	2. otherwise the value of the setting phleet.controller.
 *
 * Invariants kept here:
 *
 * - phleet.controller is PGC_SUSET and its check hook accepts a non-empty
 *   value only while phleet_context_set() is running (or while a parallel
 *   worker restores its leader's settings).  So SET, set_config(),
 *   ALTER ROLE/DATABASE ... SET, PGOPTIONS and function SET clauses cannot
 *   forge it, even for a superuser.
 * - The value lives in the GUC machinery, not in a C static, so it follows
 *   every rule of settings: parallel workers receive it, SET LOCAL-style
 *   entries revert at COMMIT, ROLLBACK and ROLLBACK TO SAVEPOINT, and
 *   RESET ALL / DISCARD ALL clear it.
 * - The binding of the session user is cached per backend and the cache is
 *   dropped on any relcache invalidation of phleet.role_bindings, which a
 *   statement trigger on that table sends on every change.
 * - The context never changes while a cursor is open (a cursor opened under
 *   one controller must not be read under another).
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"

#include "access/genam.h"
#include "access/parallel.h"
#include "access/table.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/portal.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(phleet_enter);
PG_FUNCTION_INFO_V1(phleet_leave);
PG_FUNCTION_INFO_V1(phleet_current_controller);
PG_FUNCTION_INFO_V1(phleet_cache_changed);

/* Columns of phleet.role_bindings and phleet.controllers read directly. */
#define Anum_role_bindings_role			1
#define Anum_role_bindings_controller	2
#define Anum_controllers_handle			1

/* phleet.controller: the entered context ("" when none). */
static char *context_setting = NULL;

/* phleet.internal: set only by phleet's own SECURITY DEFINER functions. */
static bool internal_setting = false;

/* True only while phleet_context_set() installs a value. */
static bool context_set_in_progress = false;

/* Per-backend cache of the session user's binding. */
static bool binding_valid = false;
static Oid	binding_user = InvalidOid;
static Oid	binding_relid = InvalidOid;
static bool binding_found = false;
static char binding_handle[PHLEET_HANDLE_MAXLEN + 1];

static bool context_check_hook(char **newval, void **extra, GucSource source);
static bool internal_check_hook(bool *newval, void **extra, GucSource source);
static void binding_invalidate(Datum arg, Oid relid);
static bool binding_lookup(Oid roleid, char *handle);


/*
 * Define phleet's settings and register the cache invalidation callback.
 */
void
ContextInit(void)
{
	DefineCustomStringVariable(PHLEET_CONTEXT_GUC,
							   "Controller whose data this session is acting for.",
							   "Set only by phleet.enter() and phleet.enter_token().",
							   &context_setting,
							   "",
							   PGC_SUSET,
							   GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							   context_check_hook,
							   NULL,
							   NULL);

	DefineCustomBoolVariable("phleet.internal",
							 "Marks phleet's own maintenance functions.",
							 "Set only through the SET clause of phleet's SECURITY DEFINER functions.",
							 &internal_setting,
							 false,
							 PGC_SUSET,
							 GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE | GUC_NO_SHOW_ALL,
							 internal_check_hook,
							 NULL,
							 NULL);

	CacheRegisterRelcacheCallback(binding_invalidate, (Datum) 0);
}

/*
 * Accept an empty value always, a handle only from phleet_context_set() or
 * from a parallel worker copying its leader's state.
 */
static bool
context_check_hook(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;

	if (v == NULL || v[0] == '\0')
		return true;

	if (!phleet_handle_valid(v, strlen(v)))
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errdetail("A controller handle is 1 to %d characters of a-z, 0-9, \"_\" and \"-\".",
							PHLEET_HANDLE_MAXLEN);
		return false;
	}

	if (context_set_in_progress || InitializingParallelWorker)
		return true;

	GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
	GUC_check_errmsg("parameter \"%s\" can only be set by phleet.enter() or phleet.enter_token()",
					 PHLEET_CONTEXT_GUC);
	GUC_check_errhint("Enter a controller context with SELECT phleet.enter('handle') or phleet.enter_token('token').");
	return false;
}

/*
 * Accept phleet.internal = on only from a SET clause or SET run as a
 * superuser (phleet's own SECURITY DEFINER functions run as the extension
 * owner), or from a parallel worker copying its leader's state.  Role and
 * database defaults, GRANT SET ON PARAMETER and startup options cannot turn
 * it on for an ordinary role: it exempts from the bypass and TRUNCATE guards.
 */
static bool
internal_check_hook(bool *newval, void **extra, GucSource source)
{
	if (!*newval || InitializingParallelWorker)
		return true;

	if ((source == PGC_S_SESSION || source == PGC_S_TEST) && superuser())
		return true;

	GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
	GUC_check_errmsg("parameter \"phleet.internal\" can only be set by phleet's own functions");
	GUC_check_errdetail("It marks phleet's maintenance functions, which run as a superuser.");
	return false;
}

/*
 * Relcache callback: forget the cached binding when phleet.role_bindings
 * changes (or when we do not know its OID yet, or on a full reset).
 */
static void
binding_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || !OidIsValid(binding_relid) || relid == binding_relid)
	{
		binding_valid = false;
		binding_relid = InvalidOid;
	}
}

/*
 * Look roleid up in phleet.role_bindings, bypassing privileges (this is
 * phleet reading its own catalog).  Returns false when not bound or when the
 * extension is not installed in this database.
 */
static bool
binding_lookup(Oid roleid, char *handle)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	bool		found = false;

	if (!IsTransactionState())
		return false;
	if (!OidIsValid(binding_relid))
		binding_relid = phleet_relid("role_bindings", true);
	if (!OidIsValid(binding_relid))
		return false;

	rel = table_open(binding_relid, AccessShareLock);
	ScanKeyInit(&key, Anum_role_bindings_role, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(roleid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_role_bindings_controller,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
		{
			text_to_cstring_buffer(DatumGetTextPP(d), handle, PHLEET_HANDLE_MAXLEN + 1);
			found = true;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * The controller the session user (the login role) is bound to, or NULL.
 */
const char *
phleet_session_binding(void)
{
	Oid			session_user = GetSessionUserId();

	if (!binding_valid || binding_user != session_user)
	{
		if (!IsTransactionState())
			return NULL;		/* cannot look it up now; cache nothing */
		binding_found = binding_lookup(session_user, binding_handle);
		binding_user = session_user;
		binding_valid = true;
	}
	return binding_found ? binding_handle : NULL;
}

/*
 * The controller entered with phleet.enter()/enter_token(), or NULL.
 */
const char *
phleet_context_entered(void)
{
	if (context_setting == NULL || context_setting[0] == '\0')
		return NULL;
	return context_setting;
}

/*
 * The controller the session is acting for, or NULL outside any context.
 * Cheap and never raises in normal operation: policies call it per row.
 */
const char *
phleet_context_current(void)
{
	const char *bound = phleet_session_binding();

	if (bound != NULL)
		return bound;
	return phleet_context_entered();
}

/*
 * True when phleet's own maintenance code is running (phleet.internal on).
 */
bool
phleet_internal_operation(void)
{
	return internal_setting;
}

/*
 * True when a controller with this handle exists.
 */
bool
phleet_controller_exists(const char *handle)
{
	Oid			relid = phleet_relid("controllers", false);
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	bool		found;

	rel = table_open(relid, AccessShareLock);
	ScanKeyInit(&key, Anum_controllers_handle, BTEqualStrategyNumber,
				F_TEXTEQ, CStringGetTextDatum(handle));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Install handle (or "" to clear) as the entered context, for the rest of the
 * transaction or, with for_session, of the session.  Callers have checked
 * the right to do so.
 */
void
phleet_context_set(const char *handle, bool for_session)
{
	const char *before = phleet_context_current();
	const char *after = handle[0] ? handle : phleet_session_binding();
	bool		changes = !((before == NULL && after == NULL) ||
							(before != NULL && after != NULL && strcmp(before, after) == 0));

	if (changes && !ThereAreNoReadyPortals())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_CURSOR_STATE),
				 errmsg("cannot change the controller context while a cursor is open"),
				 errdetail("Rows a cursor read under one controller must not be fetched under another."),
				 errhint("Close open cursors first (CLOSE ALL), or change the context before opening them.")));

	context_set_in_progress = true;
	PG_TRY();
	{
		(void) set_config_option(PHLEET_CONTEXT_GUC, handle,
								 PGC_SUSET, PGC_S_SESSION,
								 for_session || handle[0] == '\0' ? GUC_ACTION_SET : GUC_ACTION_LOCAL,
								 true, 0, false);
	}
	PG_FINALLY();
	{
		context_set_in_progress = false;
	}
	PG_END_TRY();
}

/*
 * Warn, as SET LOCAL does, that a transaction-scoped context entered outside
 * a transaction block ends with the statement that entered it.
 */
void
phleet_warn_outside_block(const char *hint)
{
	/* in a procedure the context lasts until the procedure's next COMMIT */
	if (!IsTransactionBlock() && !SPI_inside_nonatomic_context())
		ereport(WARNING,
				(errcode(ERRCODE_NO_ACTIVE_SQL_TRANSACTION),
				 errmsg("controller context entered outside a transaction block ends with this statement"),
				 errhint("%s", hint)));
}

/*
 * phleet.enter(controller text, for_session boolean DEFAULT false) RETURNS text
 *
 * Allowed to members of phleet_gateway and to roles bound to that
 * controller; a session whose login role is bound elsewhere can never enter.
 */
Datum
phleet_enter(PG_FUNCTION_ARGS)
{
	char	   *handle;
	bool		for_session = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
	const char *bound = phleet_session_binding();
	Oid			userid = GetUserId();

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("controller must not be null")));
	handle = text_to_cstring(PG_GETARG_TEXT_PP(0));
	phleet_check_handle(handle);

	if (bound != NULL && strcmp(bound, handle) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to enter controller \"%s\"", handle),
				 errdetail("Login role \"%s\" is bound to controller \"%s\" and can act only for it.",
						   GetUserNameFromId(GetSessionUserId(), false), bound)));

	if (bound == NULL && !phleet_role_has_privs(userid, PHLEET_GATEWAY_ROLE))
	{
		char		own[PHLEET_HANDLE_MAXLEN + 1];

		if (!binding_lookup(userid, own) || strcmp(own, handle) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to enter controller \"%s\"", handle),
					 errhint("Members of phleet_gateway may enter any controller; other roles must be bound with phleet.bind_role() or use phleet.enter_token().")));
	}

	if (!phleet_controller_exists(handle))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("controller \"%s\" does not exist", handle)));

	if (!for_session)
		phleet_warn_outside_block("Call phleet.enter() after BEGIN, or pass for_session => true.");
	phleet_context_set(handle, for_session);
	PG_RETURN_TEXT_P(cstring_to_text(handle));
}

/*
 * phleet.leave() RETURNS void: end the entered context.  A bound login role
 * stays in its controller's context.
 */
Datum
phleet_leave(PG_FUNCTION_ARGS)
{
	const char *bound = phleet_session_binding();

	if (phleet_context_entered() != NULL)
		phleet_context_set("", true);
	if (bound != NULL)
		ereport(NOTICE,
				(errmsg("login role is bound to controller \"%s\" and stays in its context", bound)));
	PG_RETURN_VOID();
}

/*
 * phleet.current_controller() RETURNS text: the context, NULL outside one.
 */
Datum
phleet_current_controller(PG_FUNCTION_ARGS)
{
	const char *c = phleet_context_current();

	if (c == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(c));
}

/*
 * Statement trigger on phleet's cached tables (role_bindings, controller_keys):
 * every backend drops what it cached from the table when the transaction
 * commits, through its relcache callback.
 */
Datum
phleet_cache_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"cache_changed\" must be fired as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	PG_RETURN_POINTER(NULL);
}
