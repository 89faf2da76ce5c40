/*-------------------------------------------------------------------------
 *
 * classify.c
 *	  Pseudonymizing identifier columns in the stamp trigger of tables that
 *	  phleet.classify() gave some, and phleet._convert_rows() for
 *	  phleet.pseudonymize_existing().
 *
 * A governed table has one phleet trigger, phleet_stamp (BEFORE INSERT OR
 * UPDATE, FOR EACH ROW, function phleet.stamp_controller).  Its first
 * argument names the controller column; phleet.classify() adds three
 * arguments per identifier column: column name, identifier kind, 't' when
 * the column is revealable.  With those, govern.c hands each row to
 * phleet_pseudonymize_row(), which keeps the stamp's rules (govern.c) and,
 * for INSERT, COPY FROM, INSERT ... ON CONFLICT, UPDATE and MERGE, replaces
 * every non-NULL value of those columns by its pseudonym in the current
 * controller, so no raw identifier reaches the heap or the WAL:
 *
 *	- a pseudonym this controller made for this kind passes through;
 *	- a pseudonym of another controller or kind is refused;
 *	- a value that is not a valid identifier of its kind is refused (the
 *	  error names the column, never the value);
 *	- NULL stays NULL;
 *	- for revealable columns, the normalized identifier goes to the vault
 *	  (vault.c), encrypted.
 *
 * One trigger rather than two saves a trigger call per row, and keeps one
 * order: triggers of the table's own that sort after phleet_stamp see the
 * row stamped and pseudonymized (phleet.check() warns about them).
 *
 * A refusal raises, so nothing of the statement is written.  The trigger's
 * arguments live in the relation cache (PostgreSQL invalidates them when
 * phleet.classify() re-creates the trigger); the column numbers and kinds
 * parsed from them are cached per query and relation in fn_extra.
 *
 * Per row it deforms the tuple once and forms one new tuple, the pseudonyms
 * and the stamp as datums on its stack.  A revealable value is handed to the
 * vault as soon as its pseudonym is computed; should a later column refuse
 * the row, the entry goes with the (sub)transaction the error aborts.
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"
#include "pseudonym.h"
#include "vault.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(phleet_convert_rows);

typedef struct ClassifiedColumn
{
	int			attnum;
	PhleetKind	kind;
	bool		reveal;
	const char *name;
} ClassifiedColumn;

typedef struct ClassifyCache
{
	Oid			relid;
	Oid			tgoid;
	int			stamp_attnum;	/* the controller column */
	int			ncols;
	ClassifiedColumn cols[FLEXIBLE_ARRAY_MEMBER];
} ClassifyCache;

static ClassifyCache *classify_cache(FunctionCallInfo fcinfo, TriggerData *td);

#define STACK_ATTS		32		/* columns deformed on the stack */
#define STACK_COLS		8		/* classified columns handled on the stack */

/* A pseudonym as a text datum (4-byte header), on the trigger's stack. */
typedef struct PseudonymText
{
	int32		vl_len_;
	char		data[PHLEET_PSEUDONYM_LEN + 1];
} PseudonymText;

/*
 * The classified columns of the trigger's relation, parsed from the
 * trigger's arguments once per query and relation.
 */
static ClassifyCache *
classify_cache(FunctionCallInfo fcinfo, TriggerData *td)
{
	ClassifyCache *cache = (ClassifyCache *) fcinfo->flinfo->fn_extra;
	Relation	rel = td->tg_relation;
	Trigger    *trigger = td->tg_trigger;
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	if (cache != NULL && cache->relid == RelationGetRelid(rel) &&
		cache->tgoid == trigger->tgoid)
		return cache;

	cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
								   offsetof(ClassifyCache, cols) +
								   sizeof(ClassifiedColumn) * (trigger->tgnargs / 3));
	cache->relid = RelationGetRelid(rel);
	cache->tgoid = trigger->tgoid;
	cache->stamp_attnum = phleet_stamp_column(rel, trigger);
	for (i = 1; i < trigger->tgnargs; i += 3)
	{
		ClassifiedColumn *c = &cache->cols[cache->ncols];
		const char *col = trigger->tgargs[i];
		Form_pg_attribute att;

		c->attnum = SPI_fnumber(desc, col);
		if (c->attnum <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("classified column \"%s\" of table \"%s\" does not exist",
							col, RelationGetRelationName(rel)),
					 errhint("Run phleet.unclassify() for it, then phleet.classify() the column that holds it now.")));
		att = TupleDescAttr(desc, c->attnum - 1);
		if (att->atttypid != TEXTOID && att->atttypid != VARCHAROID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("classified column \"%s\" of table \"%s\" is not of type text or varchar",
							col, RelationGetRelationName(rel))));
		c->kind = phleet_kind_from_name(trigger->tgargs[i + 1]);
		if (c->kind == PHLEET_KIND_INVALID)
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("unknown identifier kind \"%s\" in trigger \"%s\" on \"%s\"",
							trigger->tgargs[i + 1], trigger->tgname, RelationGetRelationName(rel))));
		c->reveal = strcmp(trigger->tgargs[i + 2], "t") == 0;
		c->name = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, col);
		cache->ncols++;
	}
	fcinfo->flinfo->fn_extra = cache;
	return cache;
}

/*
 * The stamp trigger of a table with identifier columns (called by
 * phleet_stamp_controller, which checked the context ctx).
 */
Datum
phleet_pseudonymize_row(FunctionCallInfo fcinfo, const char *ctx)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	ClassifyCache *cache;
	PhleetKey  *k;
	HeapTuple	tuple;
	HeapTuple	newtuple;
	bool		stamp;
	int			i;
	bool		changed = false;
	Datum	   *values;
	bool	   *isnull;
	Datum		values_s[STACK_ATTS];
	bool		isnull_s[STACK_ATTS];
	PseudonymText *texts;
	PseudonymText texts_s[STACK_COLS];
	union
	{
		int32		align;
		char		data[VARHDRSZ + PHLEET_HANDLE_MAXLEN + 1];
	}			ctxtext;

	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	tuple = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	cache = classify_cache(fcinfo, td);
	k = NULL;

	/* one pass over the tuple and one new tuple; the pseudonyms on the stack */
	if (desc->natts <= STACK_ATTS)
	{
		values = values_s;
		isnull = isnull_s;
	}
	else
	{
		values = palloc(desc->natts * sizeof(Datum));
		isnull = palloc(desc->natts * sizeof(bool));
	}
	if (cache->ncols <= STACK_COLS)
	{
		texts = texts_s;
	}
	else
	{
		texts = palloc(cache->ncols * sizeof(PseudonymText));
	}
	heap_deform_tuple(tuple, desc, values, isnull);

	/* the controller column first: a refused row costs no pseudonym */
	stamp = phleet_stamp_check(td, cache->stamp_attnum, ctx,
							   values[cache->stamp_attnum - 1],
							   isnull[cache->stamp_attnum - 1]);

	for (i = 0; i < cache->ncols; i++)
	{
		ClassifiedColumn *c = &cache->cols[i];
		Datum		d = values[c->attnum - 1];
		text	   *t;
		const char *s;
		size_t		len;
		PhleetKind	pk;
		uint8		bytes[PHLEET_PSEUDONYM_BYTES];
		uint8		mac[PHLEET_PSEUDONYM_MAC_LEN];
		char		norm[PHLEET_NORMALIZED_MAXLEN + 1];
		size_t		normlen;
		char	   *out = texts[i].data;
		const char *why = NULL;

		if (isnull[c->attnum - 1])
			continue;
		if (c->reveal)
			phleet_vault_lock(ctx);
		if (k == NULL)
			k = phleet_key_get(ctx);
		t = DatumGetTextPP(d);
		s = VARDATA_ANY(t);
		len = VARSIZE_ANY_EXHDR(t);

		if (phleet_pseudonym_parse(s, len, &pk, bytes))
		{
			if (!phleet_pseudonym_is_ours(k, c->kind, s, len))
				phleet_pseudonym_foreign_error(c->kind,
											   psprintf(" (column \"%s\" of table \"%s\")", c->name,
														RelationGetRelationName(rel)));
			continue;
		}
		if (!phleet_normalize_value(c->kind, s, len, phleet_default_country(),
									norm, sizeof(norm), &why))
		{
			explicit_bzero(norm, sizeof(norm));
			if (c->kind == PHLEET_KIND_PHONE)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid phone number in column \"%s\" of table \"%s\"",
								c->name, RelationGetRelationName(rel)),
						 errdetail_internal("%s", why ? why : "The value was refused."),
						 errhint("Write the number with a leading \"+\" and its country calling code, or set phleet.default_country to the country of national numbers (now %s).",
								 phleet_default_country())));
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid %s in column \"%s\" of table \"%s\"",
							phleet_kind_description(c->kind), c->name,
							RelationGetRelationName(rel)),
					 errdetail_internal("%s", why ? why : "The value was refused.")));
		}
		normlen = strlen(norm);
		phleet_pseudonym_compute(k, c->kind, norm, normlen, out, c->reveal ? mac : NULL);
		if (c->reveal)
			phleet_vault_stage(k, ctx, out, mac, norm, normlen);
		/* the normalizers write their result and its NUL, nothing more */
		explicit_bzero(norm, normlen + 1);
		if ((Pointer) t != DatumGetPointer(d))
			explicit_bzero(VARDATA_ANY(t), len);	/* detoasted copy */
		SET_VARSIZE(&texts[i], VARHDRSZ + PHLEET_PSEUDONYM_LEN);
		values[c->attnum - 1] = PointerGetDatum(&texts[i]);
		changed = true;
	}

	if (stamp)
	{
		size_t		len = strlen(ctx);

		Assert(len <= PHLEET_HANDLE_MAXLEN);
		SET_VARSIZE(ctxtext.data, VARHDRSZ + len);
		memcpy(ctxtext.data + VARHDRSZ, ctx, len);
		values[cache->stamp_attnum - 1] = PointerGetDatum(ctxtext.data);
		isnull[cache->stamp_attnum - 1] = false;
		changed = true;
	}
	if (!changed)
		return PointerGetDatum(tuple);

	/* what heap_modify_tuple() keeps of the old tuple */
	newtuple = heap_form_tuple(desc, values, isnull);
	newtuple->t_data->t_ctid = tuple->t_data->t_ctid;
	newtuple->t_self = tuple->t_self;
	newtuple->t_tableOid = tuple->t_tableOid;
	return PointerGetDatum(newtuple);
}

/*
 * phleet._convert_rows(part regclass, col name, controller_column name,
 *						controller text, kind text, from_block bigint,
 *						to_block bigint) RETURNS bigint[]
 *
 * For phleet.pseudonymize_existing(): in the context of controller, rewrites
 * the raw values of col in blocks [from_block, to_block) of part (an UPDATE
 * col = col, which the trigger turns into pseudonyms).  Returns {values
 * converted, values left because they are not valid identifiers}.  Runs the
 * UPDATE as the table's owner in a security-restricted operation, as
 * PostgreSQL runs maintenance on behalf of a table, so that the table's own
 * triggers never run with phleet's privileges.  Only for phleet's own
 * functions (phleet.internal on); EXECUTE is revoked from PUBLIC.
 */
Datum
phleet_convert_rows(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *col = NameStr(*PG_GETARG_NAME(1));
	char	   *ccol = NameStr(*PG_GETARG_NAME(2));
	char	   *controller = text_to_cstring(PG_GETARG_TEXT_PP(3));
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(4));
	int64		from_block = PG_GETARG_INT64(5);
	int64		to_block = PG_GETARG_INT64(6);
	const char *bound = phleet_session_binding();
	char	   *relname;
	char	   *where;
	Oid			owner;
	PhleetOwnerCode oc;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	Datum		result[2];
	volatile int64 converted = 0;
	volatile int64 left = 0;
	HeapTuple	tup;

	if (!phleet_internal_operation())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("phleet._convert_rows() is for phleet's own maintenance functions"),
				 errhint("Use CALL phleet.pseudonymize_existing().")));
	phleet_check_handle(controller);
	if (bound != NULL && strcmp(bound, controller) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot convert rows of controller \"%s\"", controller),
				 errdetail("Login role \"%s\" is bound to controller \"%s\" and can act only for it.",
						   GetUserNameFromId(GetSessionUserId(), false), bound),
				 errhint("Call phleet.pseudonymize_existing() from a login role that is not bound to a controller.")));

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
										 get_rel_name(relid));
	where = psprintf("ctid >= '(" INT64_FORMAT ",0)'::pg_catalog.tid AND ctid < '(" INT64_FORMAT ",0)'::pg_catalog.tid "
					 "AND %s OPERATOR(pg_catalog.=) $1 AND %s IS NOT NULL AND NOT phleet.is_pseudonym(%s)",
					 from_block, to_block, quote_identifier(ccol),
					 quote_identifier(col), quote_identifier(col));

	phleet_context_set(controller, false);
	values[0] = CStringGetTextDatum(controller);
	values[1] = CStringGetTextDatum(kind);

	/*
	 * As the owner (phleet_owner_code_begin()): the table's triggers run as
	 * in any UPDATE of the owner's.
	 */
	phleet_owner_code_begin(&oc, owner, 0);
	PG_TRY();
	{
		bool		isnull;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args(psprintf("UPDATE %s SET %s = %s WHERE %s AND phleet._identifier_valid(%s, $2)",
										   relname, quote_identifier(col), quote_identifier(col),
										   where, quote_identifier(col)),
								  2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not convert the values of column \"%s\"", col);
		converted = (int64) SPI_processed;
		if (SPI_execute_with_args(psprintf("SELECT pg_catalog.count(*) FROM %s WHERE %s", relname, where),
								  1, argtypes, values, NULL, false, 0) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "could not count the remaining values of column \"%s\"", col);
		/* (as a value: int8 is passed by reference on some platforms) */
		left = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		SPI_finish();
	}
	PG_CATCH();
	{
		phleet_owner_code_cleanup(&oc);
		PG_RE_THROW();
	}
	PG_END_TRY();
	phleet_owner_code_end(&oc);
	result[0] = Int64GetDatum(converted);
	result[1] = Int64GetDatum(left);

	PG_RETURN_ARRAYTYPE_P(construct_array(result, 2, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
