/*-------------------------------------------------------------------------
 *
 * phleet.h
 *	  Declarations shared between phleet's source files.
 *
 * Only what crosses files lives here; everything else is static to its file.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PHLEET_H
#define PHLEET_H

#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "storage/lock.h"
#include "tcop/utility.h"

#include "normalize.h"
#include "token_format.h"

/* Names of objects the C code needs to find. */
#define PHLEET_SCHEMA			"phleet"
#define PHLEET_ADMIN_ROLE		"phleet_admin"
#define PHLEET_GATEWAY_ROLE		"phleet_gateway"
#define PHLEET_STAMP_FUNCTION	"stamp_controller"
#define PHLEET_POLICY_NAME		"phleet_isolation"
#define PHLEET_CONTEXT_GUC		"phleet.controller"

/*
 * phleet's own heavyweight locks (phleet_locktag): user locks, which no
 * built-in SQL function takes, unlike advisory locks, so that no role can hold
 * one to stop a purge.  pg_locks shows them as locktype "userlock", database, classid
 * PHLEET_LOCK_CLASS, objid the key, objsubid the PHLEET_LOCK_* kind.
 */
#define PHLEET_LOCK_CLASS		1885891700
#define PHLEET_LOCK_PURGE		1	/* key 1: one purge at a time per database */
#define PHLEET_LOCK_VAULT		2	/* key: hash of a controller's handle */

/* phleet.c */
extern void phleet_locktag(LOCKTAG *tag, uint32 kind, uint32 key);
extern void phleet_check_handle(const char *handle);
extern void phleet_check_row_trigger(FunctionCallInfo fcinfo, const char *funcname);
extern Oid	phleet_relid(const char *relname, bool missing_ok);
extern bool phleet_role_has_privs(Oid roleid, const char *rolename);
extern bool phleet_role_bypasses_rls(Oid roleid);

/* context.c */
extern void ContextInit(void);
extern const char *phleet_context_current(void);
extern const char *phleet_context_entered(void);
extern const char *phleet_session_binding(void);
extern bool phleet_controller_exists(const char *handle);
extern void phleet_context_set(const char *handle, bool for_session);
extern void phleet_warn_outside_block(const char *hint);
extern bool phleet_internal_operation(void);

/* govern.c */
extern bool phleet_relation_is_governed(Oid relid, bool *fires);
extern AttrNumber phleet_stamp_column(Relation rel, Trigger *trigger);
extern bool phleet_stamp_check(TriggerData *td, AttrNumber attnum, const char *ctx,
							   Datum value, bool isnull);

/* classify.c */
extern Datum phleet_pseudonymize_row(FunctionCallInfo fcinfo, const char *ctx);

/* copy.c */
extern bool phleet_copy_from(PlannedStmt *pstmt, const char *queryString,
							 QueryCompletion *qc);

/* normalize_sql.c */
extern void NormalizeInit(void);
extern const char *phleet_default_country(void);
extern PhleetKind phleet_kind_checked(const char *name);
extern void phleet_normalize_checked(PhleetKind kind, const char *value,
									 size_t len, char *out);

/* utility.c */
extern void UtilityInit(void);

/* What phleet_owner_code_begin() saved, for phleet_owner_code_end(). */
typedef struct PhleetOwnerCode
{
	Oid			save_userid;
	int			save_sec;
	int			save_nestlevel;
	int			save_depth;
} PhleetOwnerCode;

extern void phleet_owner_code_begin(PhleetOwnerCode *oc, Oid owner, int sec_flags);
extern void phleet_owner_code_end(PhleetOwnerCode *oc);
extern void phleet_owner_code_cleanup(PhleetOwnerCode *oc);

/* guard.c */
extern void GuardInit(void);

/* retention.c */
extern void RetentionInit(void);

#endif							/* PHLEET_H */
