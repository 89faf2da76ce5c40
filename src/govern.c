/*-------------------------------------------------------------------------
 *
 * govern.c
 *	  The row trigger phleet.stamp_controller() that phleet.govern() puts on
 *	  every governed table, and the test "is this relation governed?".
 *
 * The trigger (BEFORE INSERT OR UPDATE, FOR EACH ROW, first argument: the
 * name of the controller column; then three per identifier column, which
 * classify.c pseudonymizes in the same pass) keeps three rules for INSERT,
 * COPY FROM, INSERT ... ON CONFLICT, UPDATE and MERGE:
 *
 *	- no write without a controller context;
 *	- a new row's controller is stamped when NULL and must otherwise be the
 *	  current controller;
 *	- an UPDATE never changes a row's controller.
 *
 * Row-level security's WITH CHECK enforces the same for every path but COPY
 * FROM, where PostgreSQL applies no policy and phleet's COPY path (copy.c)
 * relies on this trigger alone.
 *
 * A relation is governed when it carries a trigger calling
 * phleet.stamp_controller(); row triggers are cloned to partitions, so
 * partitions of a governed table are governed too.
 *
 * phleet._ddl_detaches_only() tells the ddl_command_end event trigger which
 * ALTER TABLE commands only detach a partition: those can put no relation
 * under a governed table, so the trigger need not re-check the tree.
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "nodes/parsenodes.h"
#include "tcop/deparse_utility.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(phleet_stamp_controller);
PG_FUNCTION_INFO_V1(phleet_ddl_detaches_only);

/* Per-trigger-call-site cache, kept in fn_extra for the query's lifetime. */
typedef struct StampCache
{
	Oid			relid;
	Oid			tgoid;			/* one trigger, one set of arguments */
	AttrNumber	attnum;
} StampCache;

static bool text_equals_cstring(Datum d, const char *s);

/*
 * Number of the controller column named by the stamp trigger's first
 * argument, checked.
 */
AttrNumber
phleet_stamp_column(Relation rel, Trigger *trigger)
{
	AttrNumber	attnum;
	Form_pg_attribute att;

	if (trigger->tgnargs < 1 || (trigger->tgnargs - 1) % 3 != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\" on \"%s\" must pass the controller column name, then column, kind and reveal flag for each identifier column",
						trigger->tgname, RelationGetRelationName(rel)),
				 errhint("Install it with phleet.govern().")));
	attnum = SPI_fnumber(RelationGetDescr(rel), trigger->tgargs[0]);
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("controller column \"%s\" of governed table \"%s\" does not exist",
						trigger->tgargs[0], RelationGetRelationName(rel)),
				 errhint("Run phleet.govern() on the table again.")));
	att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	if (att->atttypid != TEXTOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("controller column \"%s\" of governed table \"%s\" is not of type text",
						trigger->tgargs[0], RelationGetRelationName(rel))));
	return attnum;
}

/*
 * Number of the controller column, checked once per query and relation
 * (cached in fn_extra).
 */
static AttrNumber
stamp_attnum(FunctionCallInfo fcinfo, TriggerData *td)
{
	StampCache *cache = (StampCache *) fcinfo->flinfo->fn_extra;
	Relation	rel = td->tg_relation;
	AttrNumber	attnum;

	if (cache != NULL && cache->relid == RelationGetRelid(rel) &&
		cache->tgoid == td->tg_trigger->tgoid)
		return cache->attnum;
	attnum = phleet_stamp_column(rel, td->tg_trigger);
	cache = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(StampCache));
	cache->relid = RelationGetRelid(rel);
	cache->tgoid = td->tg_trigger->tgoid;
	cache->attnum = attnum;
	fcinfo->flinfo->fn_extra = cache;
	return attnum;
}

/* True when the text datum d equals the C string s. */
static bool
text_equals_cstring(Datum d, const char *s)
{
	text	   *t = DatumGetTextPP(d);
	size_t		len = VARSIZE_ANY_EXHDR(t);

	return len == strlen(s) && memcmp(VARDATA_ANY(t), s, len) == 0;
}

/*
 * The stamp trigger's rules for the row being written, whose controller
 * column (attnum) will hold value (NULL when isnull), in the context of
 * controller ctx: raises when the write is refused, returns true when the
 * column must be stamped (an INSERT that left it NULL).
 */
bool
phleet_stamp_check(TriggerData *td, AttrNumber attnum, const char *ctx,
				   Datum value, bool isnull)
{
	Relation	rel = td->tg_relation;
	TupleDesc	tupdesc = RelationGetDescr(rel);

	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		bool		oldnull;
		Datum		old = heap_getattr(td->tg_trigtuple, attnum, tupdesc, &oldnull);

		if (oldnull || !text_equals_cstring(old, ctx))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("cannot update a row of another controller in governed table \"%s\"",
							RelationGetRelationName(rel))));
		if (isnull || !text_equals_cstring(value, ctx))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("cannot change the controller of a row in governed table \"%s\"",
							RelationGetRelationName(rel)),
					 errdetail("The row belongs to controller \"%s\".", ctx),
					 errhint("A row's controller is fixed when it is inserted.")));
		return false;
	}
	if (isnull)
		return true;
	if (!text_equals_cstring(value, ctx))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot write a row of controller \"%s\" in the context of controller \"%s\"",
						TextDatumGetCString(value), ctx),
				 errdetail("Governed table \"%s\" accepts only rows of the current controller.",
						   RelationGetRelationName(rel)),
				 errhint("Leave column \"%s\" NULL and phleet fills it in.",
						 NameStr(TupleDescAttr(tupdesc, attnum - 1)->attname))));
	return false;
}

/*
 * phleet.stamp_controller() RETURNS trigger
 *
 * With more arguments than the controller column, the table has identifier
 * columns: classify.c pseudonymizes them and stamps the row in one pass.
 */
Datum
phleet_stamp_controller(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	tupdesc;
	AttrNumber	attnum;
	const char *ctx;
	HeapTuple	newtuple;
	Datum		value;
	bool		isnull;

	phleet_check_row_trigger(fcinfo, "stamp_controller");

	rel = td->tg_relation;
	tupdesc = RelationGetDescr(rel);
	ctx = phleet_context_current();
	if (ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("no controller context for writing to governed table \"%s\"",
						RelationGetRelationName(rel)),
				 errhint("Enter a context first with phleet.enter() or phleet.enter_token().")));
	if (td->tg_trigger->tgnargs > 1)
		return phleet_pseudonymize_row(fcinfo, ctx);

	attnum = stamp_attnum(fcinfo, td);
	newtuple = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	value = heap_getattr(newtuple, attnum, tupdesc, &isnull);
	if (phleet_stamp_check(td, attnum, ctx, value, isnull))
	{
		Datum		stamp = CStringGetTextDatum(ctx);
		bool		stampnull = false;
		int			col = attnum;

		return PointerGetDatum(heap_modify_tuple_by_cols(newtuple, tupdesc, 1,
														 &col, &stamp, &stampnull));
	}
	return PointerGetDatum(newtuple);
}

/*
 * True when relid carries phleet's stamp trigger.  With fires non-NULL, also
 * says whether that trigger would fire in this session (it is enabled for
 * the current session_replication_role).  Reads pg_trigger, so it works on
 * relations the caller has not locked.
 */
bool
phleet_relation_is_governed(Oid relid, bool *fires)
{
	Oid			stamp_oid;
	Relation	tgrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		governed = false;

	if (fires)
		*fires = false;
	if (!OidIsValid(get_namespace_oid(PHLEET_SCHEMA, true)))
		return false;
	stamp_oid = LookupFuncName(list_make2(makeString(PHLEET_SCHEMA),
										  makeString(PHLEET_STAMP_FUNCTION)),
							   0, NULL, true);
	if (!OidIsValid(stamp_oid))
		return false;

	tgrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(tgrel, TriggerRelidNameIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_trigger tg = (Form_pg_trigger) GETSTRUCT(tup);

		if (tg->tgfoid != stamp_oid)
			continue;
		governed = true;
		if (fires)
		{
			if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
				*fires = (tg->tgenabled == TRIGGER_FIRES_ON_REPLICA ||
						  tg->tgenabled == TRIGGER_FIRES_ALWAYS);
			else
				*fires = (tg->tgenabled == TRIGGER_FIRES_ON_ORIGIN ||
						  tg->tgenabled == TRIGGER_FIRES_ALWAYS);
		}
		break;
	}
	systable_endscan(scan);
	table_close(tgrel, AccessShareLock);
	return governed;
}

/*
 * phleet._ddl_detaches_only(pg_ddl_command): true when the command collected
 * for a ddl_command_end event trigger is an ALTER TABLE whose every
 * subcommand is DETACH PARTITION (including CONCURRENTLY and FINALIZE);
 * false for every other command.
 */
Datum
phleet_ddl_detaches_only(PG_FUNCTION_ARGS)
{
	CollectedCommand *cmd = (CollectedCommand *) PG_GETARG_POINTER(0);
	ListCell   *lc;

	if (cmd == NULL || cmd->type != SCT_AlterTable || cmd->d.alterTable.subcmds == NIL)
		PG_RETURN_BOOL(false);
	foreach(lc, cmd->d.alterTable.subcmds)
	{
		CollectedATSubcmd *sub = (CollectedATSubcmd *) lfirst(lc);
		AlterTableCmd *atc = (AlterTableCmd *) sub->parsetree;

		if (atc == NULL || !IsA(atc, AlterTableCmd) ||
			(atc->subtype != AT_DetachPartition &&
			 atc->subtype != AT_DetachPartitionFinalize))
			PG_RETURN_BOOL(false);
	}
	PG_RETURN_BOOL(true);
}
