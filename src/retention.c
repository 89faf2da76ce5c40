/*-------------------------------------------------------------------------
 *
 * retention.c
 *	  The C side of retention (src/retention.sql holds the rest): the
 *	  settings phleet.purge_partitions and phleet.vault_sweep_interval, the
 *	  check that phleet.purge() may
 *	  commit, and the exact per-controller row count of a partition that
 *	  phleet.purge() drops.
 *
 * phleet.purge() is a PL/pgSQL procedure that commits after every batch.
 * PostgreSQL allows that only when the CALL is not inside a transaction
 * block, a function or a SECURITY DEFINER or SET-clause procedure; otherwise
 * the first COMMIT fails with the bare "invalid transaction termination".
 * phleet._purge_can_commit() lets the procedure refuse up front, before it
 * has changed anything, with an error that says what to do.
 *
 * phleet._purge_lock() and phleet._purge_unlock() make purges of one
 * database run one at a time.  The lock is a session-level user lock, which
 * no built-in SQL function can take (these two are the extension owner's):
 * with an advisory lock any role that can connect could hold the purge's key
 * and make every purge skip.
 *
 * phleet._purge_count(part, idx) counts the rows of a partition per
 * controller the way an index-only scan would, without the executor: it
 * walks the index that leads with the controller column and counts each
 * entry whose heap page is all-visible in the visibility map; for any other
 * entry it fetches the heap tuple and counts it only if the snapshot sees
 * it.  The result is therefore exact for the active snapshot, whatever the
 * state of the visibility map; only its speed depends on it.  The caller
 * holds a lock that keeps rows from coming or going.
 *
 * phleet._purge_as_owner(tbl, query, args...) runs one DELETE of the purge
 * as the owner of tbl, the way PostgreSQL runs VACUUM, ANALYZE and REFRESH
 * MATERIALIZED VIEW: in a security-restricted operation, so that the
 * table's triggers (and what they call) never run with the privileges of
 * the extension owner.  SECURITY_NOFORCE_RLS, as in a foreign-key action,
 * lets the owner's DELETE reach the rows of every controller; guard.c's
 * fmgr hook clears that flag for the functions the DELETE fires, so they
 * read with row-level security, outside any controller context (the
 * entered one is cleared for the statement) and without phleet.internal.
 * A table with rules on DELETE is refused: a rule's action is part of the
 * statement itself and would read under the flag.
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"

#include "access/genam.h"
#include "access/nbtree.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/visibilitymap.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(phleet_purge_can_commit);
PG_FUNCTION_INFO_V1(phleet_purge_lock);
PG_FUNCTION_INFO_V1(phleet_purge_unlock);
PG_FUNCTION_INFO_V1(phleet_purge_count);
PG_FUNCTION_INFO_V1(phleet_purge_as_owner);

/* phleet.purge_partitions: may phleet.purge() drop whole partitions? */
static bool purge_partitions = true;

/* phleet.vault_sweep_interval: minutes between prunings of a vault */
static int	vault_sweep_interval = 1440;

/* phleet.log_retention: minutes phleet's logs are kept (0: for ever) */
static int	log_retention = 0;

/*
 * Define the retention settings.
 */
void
RetentionInit(void)
{
	DefineCustomBoolVariable("phleet.purge_partitions",
							 "Lets phleet.purge() drop partitions whose rows are all past retention.",
							 "When off, such partitions are emptied row by row like any other table.",
							 &purge_partitions,
							 true,
							 PGC_USERSET,
							 0,
							 NULL,
							 NULL,
							 NULL);
	DefineCustomIntVariable("phleet.vault_sweep_interval",
							"Longest time phleet.purge() leaves a controller's vault unpruned.",
							"A purge also prunes the vault of every controller whose vault was last pruned longer ago than this, "
							"so that entries of rows the application deleted itself go too. 0: only after the purge deleted rows.",
							&vault_sweep_interval,
							1440,
							0,
							INT_MAX / 2,
							PGC_SUSET,
							GUC_UNIT_MIN,
							NULL,
							NULL,
							NULL);
	DefineCustomIntVariable("phleet.log_retention",
							"How long phleet.purge() keeps phleet's own logs.",
							"A purge deletes phleet.audit_log rows and whole runs of phleet.purge_runs and phleet.purge_log "
							"older than this (audit rows of a controller under a hold of all its data stay). 0: kept for ever.",
							&log_retention,
							0,
							0,
							INT_MAX / 2,
							PGC_SUSET,
							GUC_UNIT_MIN,
							NULL,
							NULL,
							NULL);
}

/*
 * phleet._purge_can_commit() RETURNS void
 *
 * Raises unless the calling PL/pgSQL procedure runs in a context where
 * COMMIT is allowed (a non-atomic SPI connection).
 */
Datum
phleet_purge_can_commit(PG_FUNCTION_ARGS)
{
	if (!SPI_inside_nonatomic_context())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("phleet.purge() cannot run inside a transaction block or a function"),
				 errdetail("The purge commits after every batch so that no batch holds its locks for long."),
				 errhint("Run CALL phleet.purge() as a statement of its own, outside BEGIN ... COMMIT.")));
	PG_RETURN_VOID();
}

/*
 * phleet._purge_lock() RETURNS boolean
 *
 * Takes the purge lock of the current database for the session, without
 * waiting: true when this session holds it (already, after a purge of its
 * own that failed, or now), false when another session does.
 */
Datum
phleet_purge_lock(PG_FUNCTION_ARGS)
{
	LOCKTAG		tag;

	phleet_locktag(&tag, PHLEET_LOCK_PURGE, 1);
	if (LockHeldByMe(&tag, ExclusiveLock))
		PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL);
}

/*
 * phleet._purge_unlock() RETURNS void
 *
 * Releases the purge lock, if this session holds it.
 */
Datum
phleet_purge_unlock(PG_FUNCTION_ARGS)
{
	LOCKTAG		tag;

	phleet_locktag(&tag, PHLEET_LOCK_PURGE, 1);
	if (LockHeldByMe(&tag, ExclusiveLock))
		LockRelease(&tag, ExclusiveLock, true);
	PG_RETURN_VOID();
}

/*
 * phleet._purge_count(part regclass, idx regclass,
 *                     OUT controllers text[], OUT counts bigint[],
 *                     OUT heap_fetches bigint)
 *
 * Rows of part that the active snapshot sees, per value of the first key
 * column (text) of its btree index idx, in index order; a value may repeat
 * when the index's collation is not deterministic (the caller sums).
 * heap_fetches: entries whose heap page was not all-visible.
 */
Datum
phleet_purge_count(PG_FUNCTION_ARGS)
{
	Oid			partid = PG_GETARG_OID(0);
	Oid			indexid = PG_GETARG_OID(1);
	Relation	heap;
	Relation	index;
	TupleDesc	itupdesc;
	IndexFetchTableData *fetch;
	TupleTableSlot *slot;
	Snapshot	snapshot = GetActiveSnapshot();
	Buffer		buf;
	Buffer		vmbuffer = InvalidBuffer;
	BlockNumber last_block = InvalidBlockNumber;
	bool		last_visible = false;
	ArrayBuildState *keys;
	ArrayBuildState *counts;
	text	   *current = NULL;
	int64		n = 0;
	int64		fetches = 0;
	BlockNumber all_visible = 0;
	bool		every_page_visible;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	heap = table_open(partid, AccessShareLock);
	index = index_open(indexid, AccessShareLock);
	if (heap->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table with storage", RelationGetRelationName(heap)),
				 errdetail("Only a leaf partition's rows can be counted from its index.")));
	if (index->rd_rel->relkind != RELKIND_INDEX ||
		index->rd_index->indrelid != partid ||
		index->rd_rel->relam != BTREE_AM_OID ||
		TupleDescAttr(RelationGetDescr(index), 0)->atttypid != TEXTOID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("index \"%s\" is not a btree index of \"%s\" leading with a text column",
						RelationGetRelationName(index), RelationGetRelationName(heap))));
	itupdesc = RelationGetDescr(index);

	keys = initArrayResult(TEXTOID, CurrentMemoryContext, false);
	counts = initArrayResult(INT8OID, CurrentMemoryContext, false);
	slot = table_slot_create(heap, NULL);
	fetch = table_index_fetch_begin(heap);

	/*
	 * Walk the leaf level left to right.  Entries marked dead are dead to
	 * every snapshot (nbtree's scans skip them too).  A heap TID counts when
	 * its page is all-visible or, failing that, when the heap tuple it points
	 * to (or its HOT successor) is visible to the snapshot.
	 */
	/*
	 * When the visibility map marks every page of the partition all-visible
	 * (no change can come while the caller's lock is held), no entry needs a
	 * look at the heap: count the TIDs of each index tuple at once.
	 */
	visibilitymap_count(heap, &all_visible, NULL);
	every_page_visible = (all_visible >= RelationGetNumberOfBlocks(heap));

	buf = _bt_get_endpoint(index, 0, false, snapshot);
	while (BufferIsValid(buf))
	{
		Page		page = BufferGetPage(buf);
		BTPageOpaque opaque = BTPageGetOpaque(page);
		OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
		OffsetNumber off;

		CHECK_FOR_INTERRUPTS();
		if (!P_IGNORE(opaque))
		{
			for (off = P_FIRSTDATAKEY(opaque); off <= maxoff; off = OffsetNumberNext(off))
			{
				ItemId		iid = PageGetItemId(page, off);
				IndexTuple	itup;
				int			ntids;
				int			i;
				Datum		key;
				bool		isnull;
				int64		seen = 0;

				if (ItemIdIsDead(iid))
					continue;
				itup = (IndexTuple) PageGetItem(page, iid);
				ntids = BTreeTupleIsPosting(itup) ? BTreeTupleGetNPosting(itup) : 1;
				if (every_page_visible)
					seen = ntids;
				else
					for (i = 0; i < ntids; i++)
					{
						ItemPointer tid = BTreeTupleIsPosting(itup) ? BTreeTupleGetPostingN(itup, i) : &itup->t_tid;
						BlockNumber block = ItemPointerGetBlockNumber(tid);

						if (block != last_block)
						{
							last_block = block;
							last_visible = VM_ALL_VISIBLE(heap, block, &vmbuffer);
						}
						if (!last_visible)
						{
							ItemPointerData htid = *tid;
							bool		call_again = false;
							bool		all_dead = false;

							fetches++;
							if (!table_index_fetch_tuple(fetch, &htid, snapshot, slot, &call_again, &all_dead))
								continue;	/* not visible to the snapshot */
						}
						seen++;
					}
				if (seen == 0)
					continue;

				key = index_getattr(itup, 1, itupdesc, &isnull);
				if (isnull)
					continue;	/* the controller column is NOT NULL */
				if (current == NULL ||
					VARSIZE_ANY_EXHDR(DatumGetPointer(key)) != VARSIZE_ANY_EXHDR(current) ||
					memcmp(VARDATA_ANY(DatumGetPointer(key)), VARDATA_ANY(current),
						   VARSIZE_ANY_EXHDR(current)) != 0)
				{
					if (current != NULL)
					{
						accumArrayResult(keys, PointerGetDatum(current), false, TEXTOID, CurrentMemoryContext);
						accumArrayResult(counts, Int64GetDatum(n), false, INT8OID, CurrentMemoryContext);
					}
					current = DatumGetTextPCopy(key);
					n = 0;
				}
				n += seen;
			}
		}
		if (P_RIGHTMOST(opaque))
		{
			_bt_relbuf(index, buf);
			break;
		}
		buf = _bt_relandgetbuf(index, buf, opaque->btpo_next, BT_READ);
	}
	if (current != NULL)
	{
		accumArrayResult(keys, PointerGetDatum(current), false, TEXTOID, CurrentMemoryContext);
		accumArrayResult(counts, Int64GetDatum(n), false, INT8OID, CurrentMemoryContext);
	}

	if (BufferIsValid(vmbuffer))
		ReleaseBuffer(vmbuffer);
	table_index_fetch_end(fetch);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(heap, NoLock);

	values[0] = makeArrayResult(keys, CurrentMemoryContext);
	values[1] = makeArrayResult(counts, CurrentMemoryContext);
	values[2] = Int64GetDatum(fetches);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * phleet._purge_as_owner(tbl regclass, query text, VARIADIC args "any",
 *                        OUT processed bigint, OUT result text)
 *
 * Runs query (a DELETE on tbl, with args as $1, $2, ...) as the owner of
 * tbl in a security-restricted operation that bypasses the owner's FORCE
 * ROW LEVEL SECURITY, with phleet.internal off and no controller entered.
 * processed: the rows it processed; result: the first column of its first
 * row, if it returns rows.  The user id and the settings are restored on
 * return; on error, by the abort of the (sub)transaction.  Only for
 * phleet's own functions (phleet.internal on); EXECUTE is revoked from
 * PUBLIC.
 */
Datum
phleet_purge_as_owner(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *query;
	int			nargs = PG_NARGS() - 2;
	Oid		   *argtypes;
	Datum	   *values;
	char	   *nulls;
	Relation	rel;
	Oid			owner;
	PhleetOwnerCode oc;
	int			i;
	TupleDesc	tupdesc;
	Datum		result[2];
	volatile int64 processed = 0;
	bool		isnull[2] = {false, true};
	MemoryContext caller = CurrentMemoryContext;

	if (!phleet_internal_operation())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("phleet._purge_as_owner() is for phleet's own purge functions"),
				 errhint("Use CALL phleet.purge().")));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		elog(ERROR, "phleet._purge_as_owner() needs a table and a query");
	if (get_fn_expr_variadic(fcinfo->flinfo))
		elog(ERROR, "phleet._purge_as_owner() takes its arguments one by one, not as a VARIADIC array");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	relid = PG_GETARG_OID(0);
	query = text_to_cstring(PG_GETARG_TEXT_PP(1));

	argtypes = palloc0(sizeof(Oid) * Max(nargs, 1));
	values = palloc0(sizeof(Datum) * Max(nargs, 1));
	nulls = palloc0(Max(nargs, 1));
	for (i = 0; i < nargs; i++)
	{
		argtypes[i] = get_fn_expr_argtype(fcinfo->flinfo, i + 2);
		if (!OidIsValid(argtypes[i]) || argtypes[i] == UNKNOWNOID)
			elog(ERROR, "argument %d of phleet._purge_as_owner() has no known type", i + 1);
		values[i] = PG_GETARG_DATUM(i + 2);
		nulls[i] = PG_ARGISNULL(i + 2) ? 'n' : ' ';
	}

	/* the lock the DELETE takes anyway */
	rel = table_open(relid, RowExclusiveLock);
	owner = rel->rd_rel->relowner;
	if (rel->rd_rules != NULL)
	{
		for (i = 0; i < rel->rd_rules->numLocks; i++)
			if (rel->rd_rules->rules[i]->event == CMD_DELETE)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("phleet.purge() cannot delete rows of table \"%s\": it has rules on DELETE",
								RelationGetRelationName(rel)),
						 errdetail("The purge deletes as the table's owner with row-level security bypassed; a rule's action would run the same way."),
						 errhint("Replace the rule by a trigger.")));
	}
	table_close(rel, NoLock);

	/*
	 * Outside any entered context, too; all undone on return, and on error
	 * by the abort.
	 */
	phleet_owner_code_begin(&oc, owner, SECURITY_NOFORCE_RLS);
	(void) set_config_option(PHLEET_CONTEXT_GUC, "", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args(query, nargs, argtypes, values, nulls, false, 0) < 0)
			elog(ERROR, "could not run the purge's statement on \"%s\"", get_rel_name(relid));
		processed = (int64) SPI_processed;
		if (SPI_tuptable != NULL && SPI_processed > 0)
		{
			char	   *first = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

			if (first != NULL)
			{
				/* out of SPI's memory, which SPI_finish() frees */
				MemoryContext spicxt = MemoryContextSwitchTo(caller);

				result[1] = CStringGetTextDatum(first);
				isnull[1] = false;
				MemoryContextSwitchTo(spicxt);
			}
		}
		SPI_finish();
	}
	PG_CATCH();
	{
		phleet_owner_code_cleanup(&oc);
		PG_RE_THROW();
	}
	PG_END_TRY();
	phleet_owner_code_end(&oc);
	/* (after SPI_finish: int8 may be passed by reference, allocated here) */
	result[0] = Int64GetDatum(processed);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, result, isnull)));
}
