/*-------------------------------------------------------------------------
 *
 * vault.c
 *	  The vault of revealable identifiers and its audit trail:
 *	  phleet.reveal, phleet.forget, phleet.audit_log.
 *
 * For columns classified with reveal => true, classify.c's trigger hands
 * each normalized identifier to phleet_vault_stage(), which encrypts it at
 * once (AES-256-GCM under the controller's vault key, HMAC(key,
 * "phleet-vault-v1"), random nonce, "controller:pseudonym" as associated
 * data) and queues the ciphertext.  Queued entries are written in batches:
 * when the queue holds VAULT_BATCH entries and maintenance_work_mem of
 * memory (a bulk load of new identifiers is sorted in large runs, as an
 * index build sorts), when the statement that queued them ends
 * (ExecutorFinish, or COPY's end), and at the latest before commit.  A
 * batch is sorted in index order and inserted directly with the
 * speculative-insertion protocol of ON CONFLICT DO NOTHING, minus its
 * pre-check (one index descent per new entry instead of two), or, for a
 * batch of new identifiers, in bulk in a subtransaction that a unique
 * violation rolls back (vault_write_bulk).  So the vault holds one entry per
 * distinct identifier, and never a plain one.
 *
 * Invariants kept here:
 *
 * - A queued entry belongs to the subtransaction that queued it: it is
 *   dropped when that subtransaction aborts and handed to the parent when it
 *   commits; a flush writes only entries of the current subtransaction, so
 *   no entry outlives the rows that caused it or dies before them.
 * - phleet.reveal() returns a value only after the audit row of the call is
 *   committed, and every refusal or failure is committed to
 *   phleet.audit_log before the error is raised: the row is written by a
 *   background worker in its own transaction, so neither the caller's
 *   error nor its ROLLBACK can erase it.  If the row cannot be written,
 *   reveal fails (closed).
 * - Audit rows never hold an identifier: the argument is recorded only when
 *   it has the form of a pseudonym.
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"
#include "pseudonym.h"
#include "vault.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_bswap.h"
#include "postmaster/bgworker.h"
#include "postmaster/postmaster.h"
#include "storage/condition_variable.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

PG_FUNCTION_INFO_V1(phleet_reveal);
PG_FUNCTION_INFO_V1(phleet_forget);
PG_FUNCTION_INFO_V1(phleet_vault_lock_sql);

PGDLLEXPORT void phleet_audit_worker_main(Datum main_arg);

#define PHLEET_REVEAL_ROLE	"phleet_reveal"
#define VAULT_AAD_PREFIX	"phleet-vault-v1:"
#define VAULT_KEY_LABEL		"phleet-vault-v1"
#define VAULT_VERSION		1
#define VAULT_BATCH			65536	/* entries queued before a write, at least */
#define VAULT_BULK_MIN		64		/* fewer entries go one by one */
#define VAULT_BULK_CHUNK	1000	/* rows per heap_multi_insert() */
#define AAD_MAXLEN			(sizeof(VAULT_AAD_PREFIX) + PHLEET_HANDLE_MAXLEN + 1 + PHLEET_PSEUDONYM_LEN + 1)
#define STAGED_MIN			65536	/* entries the dedup set may always hold */
#define NONCE_POOL			256		/* nonces drawn per pg_strong_random() call */

/*
 * The vault's key: the pseudonym's 128-bit MAC (a uuid in the table) and
 * the controller.  Zero-padded, so that it can be hashed and compared as
 * bytes.
 */
typedef struct VaultKey
{
	uint8		mac[PHLEET_PSEUDONYM_MAC_LEN];
	char		controller[PHLEET_HANDLE_MAXLEN + 1];
} VaultKey;

/*
 * Key of the deduplication set: the MAC and the controller's position in
 * staged_controllers, 20 bytes to hash and compare instead of 80.
 */
typedef struct StagedKey
{
	uint8		mac[PHLEET_PSEUDONYM_MAC_LEN];
	uint32		controller;
} StagedKey;

/* An entry of the deduplication set (simplehash: open addressing, inline) */
typedef struct StagedEntry
{
	StagedKey	key;
	char		status;
} StagedEntry;

/* a MAC is uniformly random: its first bytes are a hash already */
static inline uint32
stset_key_hash(const StagedKey *key)
{
	uint32		h;

	memcpy(&h, key->mac, sizeof(h));
	return h ^ key->controller;
}

#define SH_PREFIX		stset
#define SH_ELEMENT_TYPE	StagedEntry
#define SH_KEY_TYPE		StagedKey
#define SH_KEY			key
#define SH_HASH_KEY(tb, k)	stset_key_hash(&(k))
#define SH_EQUAL(tb, a, b)	(memcmp(&(a), &(b), sizeof(StagedKey)) == 0)
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* One queued vault entry. */
typedef struct VaultEntry
{
	VaultKey	key;
	int			level;			/* transaction nest level that queued it */
	bytea	   *sealed;
} VaultEntry;

/* An audit record, passed to the audit worker in a DSM segment. */
typedef struct AuditRecord
{
	Oid			dboid;
	Oid			owner;
	TimestampTz at;
	int			pid;
	char		session_role[NAMEDATALEN];
	char		role_name[NAMEDATALEN];
	char		controller[PHLEET_HANDLE_MAXLEN + 1];	/* "" = none */
	char		pseudonym[PHLEET_PSEUDONYM_LEN + 1];	/* "" = none */
	char		action[16];
	char		outcome[32];
	bool		started;		/* set by the worker as it takes the slot */
	bool		done;			/* set by the worker once committed */
} AuditRecord;

static MemoryContext vault_cxt = NULL;
static VaultEntry *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;
static Size pending_bytes = 0;	/* memory the queue holds */
static int	held_n = 0;			/* entries (and their memory) left queued by */
static Size held_bytes = 0;		/* the last write: of enclosing subtransactions */
static stset_hash *staged = NULL;	/* StagedKeys queued or written */
static char **staged_controllers = NULL;	/* handles numbered for StagedKey */
static int	nstaged_controllers = 0;
static bool flushing = false;
static bool bulk_failed = false;	/* a bulk write met an existing entry */
static SPIPlanPtr flush_plan = NULL;

static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static shmem_request_hook_type prev_shmem_request = NULL;
static shmem_startup_hook_type prev_shmem_startup = NULL;

/*
 * Audit writers running at once, server-wide.  Each reveal() waits for a
 * slot before it starts its worker, so that a flood of calls
 * (refused ones are audited too) cannot take every background worker slot
 * from parallel query, replication and other extensions.
 */
typedef struct AuditWriters
{
	slock_t		mutex;
	int			running;
	ConditionVariable slot_freed;
} AuditWriters;

static AuditWriters *audit_writers = NULL;
static int	max_audit_writers = 2;	/* phleet.max_audit_writers */

static void vault_flush(bool all);
static void vault_forget_pending(void);
static void vault_ExecutorFinish(QueryDesc *queryDesc);
static void vault_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
								 bool readOnlyTree, ProcessUtilityContext context,
								 ParamListInfo params, QueryEnvironment *queryEnv,
								 DestReceiver *dest, QueryCompletion *qc);
static void vault_xact_callback(XactEvent event, void *arg);
static void vault_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								   SubTransactionId parentSubid, void *arg);
static void vault_key_ready(PhleetKey *k);
static size_t vault_aad(const char *controller, const char *pseudonym, uint8 *aad);
static Oid	audit_owner(void);
static void audit_init(AuditRecord *rec, const char *action, const char *controller);
static void audit_commit(AuditRecord *rec, const char *outcome);
static void audit_shmem_request(void);
static void audit_shmem_startup(void);
static void audit_slot_acquire(void);
static void audit_slot_release(int code, Datum arg);
static char *reveal_lookup(const char *controller, const char *pseudonym,
						   const char **outcome);


/*
 * Install the hooks and transaction callbacks.
 */
void
VaultInit(void)
{
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = vault_ExecutorFinish;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = vault_ProcessUtility;
	RegisterXactCallback(vault_xact_callback, NULL);
	RegisterSubXactCallback(vault_subxact_callback, NULL);

	DefineCustomIntVariable("phleet.max_audit_writers",
							"Background workers phleet runs at once to record reveal() calls in phleet.audit_log.",
							"Further calls wait for one to finish; they count against max_worker_processes.",
							&max_audit_writers, 2, 1, MAX_BACKENDS,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	prev_shmem_request = shmem_request_hook;
	shmem_request_hook = audit_shmem_request;
	prev_shmem_startup = shmem_startup_hook;
	shmem_startup_hook = audit_shmem_startup;
}

static void
audit_shmem_request(void)
{
	if (prev_shmem_request)
		prev_shmem_request();
	RequestAddinShmemSpace(MAXALIGN(sizeof(AuditWriters)));
}

static void
audit_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup)
		prev_shmem_startup();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	audit_writers = ShmemInitStruct("phleet audit writers", sizeof(AuditWriters), &found);
	if (!found)
	{
		SpinLockInit(&audit_writers->mutex);
		audit_writers->running = 0;
		ConditionVariableInit(&audit_writers->slot_freed);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Derive the controller's vault key once per backend and key. */
static void
vault_key_ready(PhleetKey *k)
{
	if (k->vault_ready)
		return;
	phleet_hmac_derive(k->key, VAULT_KEY_LABEL, k->vault_key);
	k->vault_ready = true;
}

/* Associated data binding a vault entry to its controller and pseudonym. */
static size_t
vault_aad(const char *controller, const char *pseudonym, uint8 *aad)
{
	return (size_t) sprintf((char *) aad, VAULT_AAD_PREFIX "%s:%s", controller, pseudonym);
}

/*
 * A fresh random nonce.  pg_strong_random() costs about a microsecond per
 * call whatever the length, so nonces are drawn from a pool filled
 * NONCE_POOL at a time: the same random bytes, one call per NONCE_POOL
 * entries.  Each byte of the pool is used once; backends never fork, so no
 * two processes share a pool.
 */
static void
vault_nonce(uint8 *out)
{
	static uint8 pool[NONCE_POOL * PHLEET_AEAD_NONCE_LEN];
	static int	used = NONCE_POOL;

	if (used == NONCE_POOL)
	{
		if (!pg_strong_random(pool, sizeof(pool)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate random bytes")));
		used = 0;
	}
	memcpy(out, pool + used * PHLEET_AEAD_NONCE_LEN, PHLEET_AEAD_NONCE_LEN);
	explicit_bzero(pool + used * PHLEET_AEAD_NONCE_LEN, PHLEET_AEAD_NONCE_LEN);
	used++;
}

/*
 * How many entries the deduplication set may hold: what a hash table of the
 * executor may use (work_mem × hash_mem_multiplier), at half fill, and at
 * least STAGED_MIN.  A set dropped when full only costs speed: identifiers
 * seen again are looked up in the vault's index instead.
 */
static uint32
staged_max(void)
{
	size_t		n = get_hash_memory_limit() / (2 * sizeof(StagedEntry));

	return (uint32) Min(Max(n, STAGED_MIN), PG_INT32_MAX / 2);
}

/*
 * Memory the queue holds, after entries left it.  What is left then belongs
 * to enclosing subtransactions (a write takes only the current one's), so it
 * does not count towards the next batch: otherwise a subtransaction opened
 * with a full queue would write at every new identifier.
 */
static void
pending_recount(void)
{
	int			i;

	pending_bytes = 0;
	for (i = 0; i < npending; i++)
		pending_bytes += sizeof(VaultEntry) + GetMemoryChunkSpace(pending[i].sealed);
	held_n = npending;
	held_bytes = pending_bytes;
}

/* Drop the deduplication set. */
static void
staged_reset(void)
{
	if (staged != NULL)
		stset_destroy(staged);
	staged = NULL;
	staged_controllers = NULL;	/* allocated in vault_cxt, with staged */
	nstaged_controllers = 0;
}

/* Deduplication key of (controller, mac); the set must exist. */
static void
staged_key_make(StagedKey *key, const char *controller, const uint8 *mac)
{
	int			i;

	for (i = 0; i < nstaged_controllers; i++)
		if (strcmp(staged_controllers[i], controller) == 0)
			break;
	if (i == nstaged_controllers)
	{
		staged_controllers = staged_controllers ?
			repalloc(staged_controllers, (i + 1) * sizeof(char *)) :
			MemoryContextAlloc(vault_cxt, sizeof(char *));
		staged_controllers[i] = MemoryContextStrdup(vault_cxt, controller);
		nstaged_controllers++;
	}
	memcpy(key->mac, mac, PHLEET_PSEUDONYM_MAC_LEN);
	key->controller = (uint32) i;
}

/* The vault key of (controller, mac). */
static void
vault_key_fill(VaultKey *key, const char *controller, const uint8 *mac)
{
	memset(key, 0, sizeof(*key));
	memcpy(key->mac, mac, PHLEET_PSEUDONYM_MAC_LEN);
	strlcpy(key->controller, controller, sizeof(key->controller));
}

/* Fill in the vault key of a pseudonym of controller; false if malformed. */
static bool
vault_key_make(VaultKey *key, const char *controller, const char *pseudonym)
{
	uint8		bytes[PHLEET_PSEUDONYM_BYTES];
	PhleetKind	kind;

	memset(key, 0, sizeof(*key));
	if (!phleet_pseudonym_parse(pseudonym, strlen(pseudonym), &kind, bytes))
		return false;
	vault_key_fill(key, controller, bytes);
	return true;
}

/* the tag of controller's vault lock (controllers whose handles hash alike share one) */
static void
vault_locktag(LOCKTAG *tag, const char *controller)
{
	phleet_locktag(tag, PHLEET_LOCK_VAULT,
				   hash_bytes((const unsigned char *) controller, strlen(controller)));
}

/*
 * The lock is taken for the top-level transaction (its resource owner), not
 * for the current subtransaction: a row written in a subtransaction that
 * commits must stay covered after the subtransaction's own locks would have
 * been released, and one lock per transaction and controller keeps the
 * per-row cost to two comparisons.
 */
void
phleet_vault_lock(const char *controller)
{
	static LocalTransactionId locked_in = InvalidLocalTransactionId;
	static char locked_for[PHLEET_HANDLE_MAXLEN + 1];
	ResourceOwner save;
	LOCKTAG		tag;

	if (locked_in == MyProc->lxid && strcmp(locked_for, controller) == 0)
		return;
	vault_locktag(&tag, controller);
	save = CurrentResourceOwner;
	CurrentResourceOwner = TopTransactionResourceOwner;
	PG_TRY();
	{
		(void) LockAcquire(&tag, ShareLock, false, false);
	}
	PG_FINALLY();
	{
		CurrentResourceOwner = save;
	}
	PG_END_TRY();
	locked_in = MyProc->lxid;
	strlcpy(locked_for, controller, sizeof(locked_for));

	/*
	 * The lock may have been waited for behind phleet.controller_forget():
	 * see what it committed (the key cache follows controller_keys) before
	 * the caller fetches the controller's key.
	 */
	AcceptInvalidationMessages();
}

/*
 * phleet._vault_lock(controller text) RETURNS void
 *
 * For the purge's pruning of controller's vault: waits (lock_timeout
 * applies) until no transaction that wrote one of controller's revealable
 * columns is running, and keeps new ones from writing until the current
 * transaction ends.
 */
Datum
phleet_vault_lock_sql(PG_FUNCTION_ARGS)
{
	char	   *controller = text_to_cstring(PG_GETARG_TEXT_PP(0));

	phleet_check_handle(controller);
	phleet_vault_lock_exclusive(controller);
	PG_RETURN_VOID();
}

/* Wait for controller's vault writers and keep new ones out (transaction). */
void
phleet_vault_lock_exclusive(const char *controller)
{
	LOCKTAG		tag;

	vault_locktag(&tag, controller);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

void
phleet_vault_stage(PhleetKey *k, const char *controller, const char *pseudonym,
				   const uint8 *mac, const char *norm, size_t len)
{
	VaultKey	key;
	StagedKey	skey;
	bool		found;
	uint8		aad[AAD_MAXLEN];
	size_t		aadlen;
	bytea	   *sealed;
	uint8	   *p;
	VaultEntry *e;

	if (vault_cxt == NULL)
		vault_cxt = AllocSetContextCreate(TopMemoryContext, "phleet vault queue",
										  ALLOCSET_DEFAULT_SIZES);
	/* deduplication is an optimization: the unique key keeps the vault right */
	if (staged != NULL && staged->members >= staged_max())
		staged_reset();
	if (staged == NULL)
		staged = stset_create(vault_cxt, 1024, NULL);
	staged_key_make(&skey, controller, mac);
	(void) stset_insert(staged, skey, &found);
	if (found)
		return;

	/* a new identifier in this transaction: encrypt and queue it */
	vault_key_fill(&key, controller, mac);
	vault_key_ready(k);
	sealed = (bytea *) MemoryContextAlloc(vault_cxt, VARHDRSZ + 1 + PHLEET_AEAD_NONCE_LEN +
										  len + PHLEET_AEAD_TAG_LEN);
	SET_VARSIZE(sealed, VARHDRSZ + 1 + PHLEET_AEAD_NONCE_LEN + len + PHLEET_AEAD_TAG_LEN);
	p = (uint8 *) VARDATA(sealed);
	p[0] = VAULT_VERSION;
	vault_nonce(p + 1);
	aadlen = vault_aad(controller, pseudonym, aad);
	if (!phleet_aead_seal(k->vault_key, p + 1, aad, aadlen, (const uint8 *) norm, len,
						  p + 1 + PHLEET_AEAD_NONCE_LEN,
						  p + 1 + PHLEET_AEAD_NONCE_LEN + len))
		elog(ERROR, "could not encrypt a vault entry with AES-256-GCM");

	if (npending == maxpending)
	{
		int			newmax = maxpending ? maxpending * 2 : 64;

		pending = pending ?
			repalloc(pending, newmax * sizeof(VaultEntry)) :
			MemoryContextAlloc(vault_cxt, newmax * sizeof(VaultEntry));
		maxpending = newmax;
	}
	e = &pending[npending++];
	e->key = key;
	e->level = GetCurrentTransactionNestLevel();
	e->sealed = sealed;

	pending_bytes += sizeof(VaultEntry) + GetMemoryChunkSpace(sealed);
	if (npending - held_n >= VAULT_BATCH &&
		pending_bytes - held_bytes >= (Size) maintenance_work_mem * 1024)
		vault_flush(false);
}

/*
 * A queued entry as it is sorted: its MAC as two big-endian integers (so
 * that integer order is the uuid's memcmp order), read once, next to each
 * other, instead of through the entry at every comparison.
 */
typedef struct VaultSortItem
{
	uint64		hi;
	uint64		lo;
	VaultEntry *e;
} VaultSortItem;

/* order of the vault's key (mac, controller) */
static inline int
vault_sort_cmp(const VaultSortItem *a, const VaultSortItem *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return strcmp(a->e->key.controller, b->e->key.controller);
}

#define ST_SORT			vault_sort
#define ST_ELEMENT_TYPE	VaultSortItem
#define ST_COMPARE(a, b)	vault_sort_cmp(a, b)
#define ST_SCOPE		static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * Put entry e into slot as a row of phleet.vault (mac, controller, sealed,
 * created_at = now); the controller's text lives in the per-tuple context.
 */
static void
vault_slot_fill(TupleTableSlot *slot, EState *estate, VaultEntry *e, Datum now)
{
	MemoryContext old;

	ExecClearTuple(slot);
	old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
	slot->tts_values[0] = PointerGetDatum(e->key.mac);	/* a pg_uuid_t */
	slot->tts_values[1] = PointerGetDatum(cstring_to_text(e->key.controller));
	MemoryContextSwitchTo(old);
	slot->tts_values[2] = PointerGetDatum(e->sealed);
	slot->tts_values[3] = now;
	memset(slot->tts_isnull, 0, 4 * sizeof(bool));
	ExecStoreVirtualTuple(slot);
}

/*
 * Insert entries[0..n), none of which should be in the vault yet, in one
 * go: heap_multi_insert in chunks (one WAL record per page, not per row),
 * then plain unique index entries (UNIQUE_CHECK_YES: waits for an
 * in-progress writer of the same key, raises if the key is there).  All in
 * a subtransaction: on a unique violation it is rolled back, nothing of the
 * batch stays, and false tells the caller to write the batch entry by entry
 * with the ON CONFLICT protocol.  Any other error is raised.
 */
static bool
vault_write_bulk(Relation rel, ResultRelInfo *rri, EState *estate,
				 VaultEntry **entries, int n, CommandId cid, Datum now)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	TupleTableSlot *slots[VAULT_BULK_CHUNK];
	int			nslots = 0;
	volatile bool ok = true;
	int			i;

	for (i = 0; i < Min(n, VAULT_BULK_CHUNK); i++)
		slots[nslots++] = table_slot_create(rel, NULL);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		BulkInsertState bistate = GetBulkInsertState();
		int			done;

		for (done = 0; done < n; done += VAULT_BULK_CHUNK)
		{
			int			k = Min(VAULT_BULK_CHUNK, n - done);
			int			j;

			CHECK_FOR_INTERRUPTS();
			ResetPerTupleExprContext(estate);
			for (j = 0; j < k; j++)
			{
				vault_slot_fill(slots[j], estate, entries[done + j], now);
			}
			table_multi_insert(rel, slots, k, cid, 0, bistate);
			for (j = 0; j < k; j++)
				list_free(ExecInsertIndexTuples(rri, slots[j], estate, false, false, NULL, NIL));
		}
		FreeBulkInsertState(bistate);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_UNIQUE_VIOLATION)
		{
			FreeErrorData(edata);
			PG_RE_THROW();
		}
		FreeErrorData(edata);
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		ok = false;
	}
	PG_END_TRY();
	for (i = 0; i < nslots; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	return ok;
}

/*
 * Insert entries[0..n) straight into phleet.vault with the protocol of
 * INSERT ... ON CONFLICT DO NOTHING (ExecInsert's), in C: each row is
 * inserted speculatively, its index entries with UNIQUE_CHECK_PARTIAL; a row
 * that meets an existing or in-progress one is super-deleted at once, then
 * the conflict is checked the way ON CONFLICT checks it (waiting for an
 * in-progress writer): the entry is there, or the insert is tried again.
 * New entries cost one index descent, not two; once a batch has met many
 * existing entries (identifiers seen in earlier transactions), the rest are
 * checked first.  Returns false, having written nothing, when the table is
 * not the one this file creates (the SQL path then does the work).
 */
static bool
vault_write_direct(VaultEntry **entries, int n, bool bulk)
{
	Relation	rel;
	TupleDesc	desc;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	TransactionId xid;
	CommandId	cid;
	Datum		now;
	int			nconflict = 0;
	bool		precheck = false;
	int			i;

	/* a read-only transaction gets the SQL path's error */
	if (XactReadOnly)
		return false;
	rel = table_open(phleet_relid("vault", false), RowExclusiveLock);
	desc = RelationGetDescr(rel);
	/* only the table this file creates: no triggers, no row security, no index expressions */
	if (rel->trigdesc != NULL || rel->rd_rel->relrowsecurity || desc->natts != 4 ||
		TupleDescAttr(desc, 0)->atttypid != UUIDOID ||
		TupleDescAttr(desc, 1)->atttypid != TEXTOID ||
		TupleDescAttr(desc, 2)->atttypid != BYTEAOID ||
		TupleDescAttr(desc, 3)->atttypid != TIMESTAMPTZOID ||
		strcmp(NameStr(TupleDescAttr(desc, 0)->attname), "mac") != 0 ||
		strcmp(NameStr(TupleDescAttr(desc, 1)->attname), "controller") != 0 ||
		strcmp(NameStr(TupleDescAttr(desc, 2)->attname), "sealed") != 0 ||
		strcmp(NameStr(TupleDescAttr(desc, 3)->attname), "created_at") != 0)
	{
		table_close(rel, RowExclusiveLock);
		return false;
	}

	estate = CreateExecutorState();
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, true);
	for (i = 0; i < rri->ri_NumIndices; i++)
	{
		IndexInfo  *ii = rri->ri_IndexRelationInfo[i];

		if (ii->ii_Expressions != NIL || ii->ii_Predicate != NIL || ii->ii_ExclusionOps != NULL)
		{
			ExecCloseIndices(rri);
			FreeExecutorState(estate);
			table_close(rel, RowExclusiveLock);
			return false;
		}
	}

	xid = GetCurrentTransactionId();
	cid = GetCurrentCommandId(true);
	now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());	/* the column's DEFAULT now() */

	/*
	 * New identifiers in bulk (an import, a large COPY): all at once, unless
	 * this transaction already met entries that exist, or commits now
	 * (no subtransaction during commit).
	 */
	if (bulk && !bulk_failed && n >= VAULT_BULK_MIN)
	{
		if (vault_write_bulk(rel, rri, estate, entries, n, cid, now))
		{
			ExecCloseIndices(rri);
			FreeExecutorState(estate);
			table_close(rel, RowExclusiveLock);
			return true;
		}
		bulk_failed = true;
		/* the subtransaction took a command id: take the current one */
		cid = GetCurrentCommandId(true);
	}

	slot = table_slot_create(rel, NULL);
	for (i = 0; i < n; i++)
	{
		ItemPointerData conflictTid;

		CHECK_FOR_INTERRUPTS();
		ResetPerTupleExprContext(estate);
		vault_slot_fill(slot, estate, entries[i], now);

		if (precheck && !ExecCheckIndexConstraints(rri, slot, estate, &conflictTid, NIL))
			continue;			/* already in the vault */
		for (;;)
		{
			uint32		token;
			bool		conflict = false;
			List	   *recheck;

			token = SpeculativeInsertionLockAcquire(xid);
			table_tuple_insert_speculative(rel, slot, cid, 0, NULL, token);
			recheck = ExecInsertIndexTuples(rri, slot, estate, false, true, &conflict, NIL);
			table_tuple_complete_speculative(rel, slot, token, !conflict);
			SpeculativeInsertionLockRelease(xid);
			list_free(recheck);
			if (!conflict)
				break;
			nconflict++;
			/* waits for an in-progress writer of the same entry, as ON CONFLICT does */
			if (!ExecCheckIndexConstraints(rri, slot, estate, &conflictTid, NIL))
				break;			/* it is there */
		}
		if (!precheck && nconflict > 64 && nconflict * 4 > i)
			precheck = true;
	}
	ExecDropSingleTupleTableSlot(slot);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	table_close(rel, RowExclusiveLock);
	return true;
}

/*
 * Write the queued entries of the current subtransaction (all with all),
 * sorted in index order: directly (vault_write_direct), or, when the vault
 * table is not as expected, in one INSERT ... ON CONFLICT DO NOTHING as the
 * owner of phleet's tables.
 */
static void
vault_flush(bool all)
{
	int			level = GetCurrentTransactionNestLevel();
	int			n = 0;
	int			i;
	int			kept;
	VaultSortItem *items;
	VaultEntry **todo;
	Datum		values[3];
	Oid			save_userid;
	int			save_sec;
	int			save_nestlevel;
	MemoryContext tmp;
	MemoryContext old;

	if (flushing || npending == 0 || IsInParallelMode())
		return;

	tmp = AllocSetContextCreate(CurrentMemoryContext, "phleet vault flush",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(tmp);
	items = palloc(npending * sizeof(VaultSortItem));
	for (i = 0; i < npending; i++)
	{
		if (!all && pending[i].level < level)
			continue;
		memcpy(&items[n].hi, pending[i].key.mac, sizeof(uint64));
		memcpy(&items[n].lo, pending[i].key.mac + sizeof(uint64), sizeof(uint64));
		items[n].hi = pg_ntoh64(items[n].hi);
		items[n].lo = pg_ntoh64(items[n].lo);
		items[n].e = &pending[i];
		n++;
	}
	if (n == 0)
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(tmp);
		return;
	}
	/* in index order: neighbouring entries share btree pages */
	vault_sort(items, n);
	/* the same identifier twice (queued again after the set was dropped) */
	todo = palloc(n * sizeof(VaultEntry *));
	todo[0] = items[0].e;
	if (n > 1)
	{
		int			m = 1;

		for (i = 1; i < n; i++)
			if (vault_sort_cmp(&items[i], &items[i - 1]) != 0)
				todo[m++] = items[i].e;
		n = m;
	}
	pfree(items);

	flushing = true;
	PG_TRY();
	{
		if (!vault_write_direct(todo, n, !all))
		{
			Datum	   *mac = palloc(n * sizeof(Datum));
			Datum	   *ctl = palloc(n * sizeof(Datum));
			Datum	   *ct = palloc(n * sizeof(Datum));

			for (i = 0; i < n; i++)
			{
				mac[i] = PointerGetDatum(todo[i]->key.mac);
				ctl[i] = CStringGetTextDatum(todo[i]->key.controller);
				ct[i] = PointerGetDatum(todo[i]->sealed);
			}
			values[0] = PointerGetDatum(construct_array(mac, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
			values[1] = PointerGetDatum(construct_array(ctl, n, TEXTOID, -1, false, TYPALIGN_INT));
			values[2] = PointerGetDatum(construct_array(ct, n, BYTEAOID, -1, false, TYPALIGN_INT));
			MemoryContextSwitchTo(old);

			phleet_spi_as_owner_begin(&save_userid, &save_sec, &save_nestlevel);
			if (flush_plan == NULL)
			{
				Oid			argtypes[3] = {UUIDARRAYOID, TEXTARRAYOID, BYTEAARRAYOID};
				SPIPlanPtr	plan;

				plan = SPI_prepare("INSERT INTO phleet.vault (mac, controller, sealed) "
								   "SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3)) "
								   "ON CONFLICT (mac, controller) DO NOTHING",
								   3, argtypes);
				if (plan == NULL || SPI_keepplan(plan) != 0)
					elog(ERROR, "could not prepare the vault insert: %s",
						 SPI_result_code_string(SPI_result));
				flush_plan = plan;
			}
			if (SPI_execute_plan(flush_plan, values, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not write vault entries");
			phleet_spi_as_owner_end(save_userid, save_sec, save_nestlevel);
		}
		MemoryContextSwitchTo(old);
	}
	PG_FINALLY();
	{
		flushing = false;
	}
	PG_END_TRY();

	/* drop what was written */
	kept = 0;
	for (i = 0; i < npending; i++)
	{
		if (!all && pending[i].level < level)
			pending[kept++] = pending[i];
		else
			pfree(pending[i].sealed);
	}
	npending = kept;
	pending_recount();
	MemoryContextDelete(tmp);
}

/* Forget everything queued or remembered (transaction end). */
static void
vault_forget_pending(void)
{
	if (vault_cxt != NULL)
		MemoryContextReset(vault_cxt);
	pending = NULL;
	npending = 0;
	maxpending = 0;
	pending_bytes = 0;
	held_n = 0;
	held_bytes = 0;
	staged = NULL;
	staged_controllers = NULL;
	nstaged_controllers = 0;
	flushing = false;
	bulk_failed = false;
}

/*
 * A statement's queued entries are written when its executor finishes.
 */
static void
vault_ExecutorFinish(QueryDesc *queryDesc)
{
	if (prev_ExecutorFinish)
		prev_ExecutorFinish(queryDesc);
	else
		standard_ExecutorFinish(queryDesc);
	if (npending > 0)
		vault_flush(false);
}

/*
 * COPY FROM does not run through the executor: write its entries when it
 * returns.
 */
static void
vault_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
	if (npending > 0 && IsA(pstmt->utilityStmt, CopyStmt))
		vault_flush(false);
}

/*
 * Nothing queued survives its transaction: written before commit, dropped
 * on abort.
 */
static void
vault_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (npending > 0)
			{
				PushActiveSnapshot(GetTransactionSnapshot());
				vault_flush(true);
				PopActiveSnapshot();
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			vault_forget_pending();
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (npending > 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction with unwritten vault entries")));
			break;
		default:
			break;
	}
}

/*
 * A subtransaction's entries go with it on abort and to its parent on
 * commit.
 */
static void
vault_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	int			i;
	int			kept = 0;

	if (npending == 0 && staged == NULL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		for (i = 0; i < npending; i++)
		{
			if (pending[i].level >= level)
				pfree(pending[i].sealed);
			else
				pending[kept++] = pending[i];
		}
		npending = kept;
		pending_recount();
		/* what the subtransaction wrote is gone too: stop deduplicating */
		staged_reset();
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		for (i = 0; i < npending; i++)
			if (pending[i].level >= level)
				pending[i].level = level - 1;
	}
}

/* Owner of phleet.audit_log: the audit worker writes as that role. */
static Oid
audit_owner(void)
{
	Oid			relid = phleet_relid("audit_log", false);
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * Fill in who, when and where for an audit record.
 */
static void
audit_init(AuditRecord *rec, const char *action, const char *controller)
{
	memset(rec, 0, sizeof(*rec));
	rec->dboid = MyDatabaseId;
	rec->at = GetCurrentTimestamp();
	rec->pid = MyProcPid;
	strlcpy(rec->session_role, GetUserNameFromId(GetSessionUserId(), false), NAMEDATALEN);
	strlcpy(rec->role_name, GetUserNameFromId(GetUserId(), false), NAMEDATALEN);
	if (controller)
		strlcpy(rec->controller, controller, sizeof(rec->controller));
	strlcpy(rec->action, action, sizeof(rec->action));
}

/*
 * Commit rec to phleet.audit_log in a transaction of its own (a background
 * worker's), or raise.
 */
static void
audit_commit(AuditRecord *rec, const char *outcome)
{
	dsm_segment *seg;
	AuditRecord *shared;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus status;
	bool		done;

	strlcpy(rec->outcome, outcome, sizeof(rec->outcome));
	rec->owner = audit_owner();
	seg = dsm_create(sizeof(AuditRecord), 0);
	shared = (AuditRecord *) dsm_segment_address(seg);
	memcpy(shared, rec, sizeof(AuditRecord));
	shared->started = false;
	shared->done = false;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "phleet", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "phleet_audit_worker_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "phleet audit writer for PID %d", MyProcPid);
	strlcpy(worker.bgw_type, "phleet audit writer", BGW_MAXLEN);
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	/*
	 * A slot taken here belongs to the worker once it runs (it gives it back
	 * as it exits, however it exits, also when this backend has stopped
	 * waiting for it); it is given back here if the worker never ran.
	 */
	audit_slot_acquire();
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		audit_slot_release(0, (Datum) 0);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the worker that records this call in phleet.audit_log"),
				 errdetail("Calls of phleet.reveal() are refused unless their audit row can be committed."),
				 errhint("Raise max_worker_processes, or retry when fewer background workers run.")));
	}
	status = WaitForBackgroundWorkerShutdown(handle);
	pg_read_barrier();
	if (!shared->started)
		audit_slot_release(0, (Datum) 0);
	done = shared->done;
	dsm_detach(seg);
	if (status != BGWH_STOPPED || !done)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not record this call in phleet.audit_log"),
				 errdetail("Calls of phleet.reveal() are refused unless their audit row can be committed."),
				 errhint("See the server log for the audit writer's error.")));
}

/*
 * Wait until fewer than phleet.max_audit_writers audit workers run, and take
 * a slot for the one this backend starts.
 */
static void
audit_slot_acquire(void)
{
	bool		taken = false;

	for (;;)
	{
		SpinLockAcquire(&audit_writers->mutex);
		if (audit_writers->running < max_audit_writers)
		{
			audit_writers->running++;
			taken = true;
		}
		SpinLockRelease(&audit_writers->mutex);
		if (taken)
			break;
		ConditionVariableSleep(&audit_writers->slot_freed, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

/*
 * Give an audit worker's slot back (also a before_shmem_exit callback), and
 * wake every waiting call to look again: a single woken call that is
 * cancelled before it looks would take the wakeup with it (PostgreSQL 15
 * does not pass it on), leaving the others asleep with the slot free.
 */
static void
audit_slot_release(int code, Datum arg)
{
	SpinLockAcquire(&audit_writers->mutex);
	if (audit_writers->running > 0)
		audit_writers->running--;
	SpinLockRelease(&audit_writers->mutex);
	ConditionVariableBroadcast(&audit_writers->slot_freed);
}

/*
 * Background worker: commit one audit row, then say so.
 */
void
phleet_audit_worker_main(Datum main_arg)
{
	dsm_segment *seg;
	AuditRecord *rec;
	Oid			argtypes[8] = {TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, INT4OID};
	Datum		values[8];
	char		nulls[8] = "        ";

	/* the slot its backend took is this worker's from now on */
	before_shmem_exit(audit_slot_release, (Datum) 0);
	BackgroundWorkerUnblockSignals();
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("phleet audit writer could not map its record")));
	rec = (AuditRecord *) dsm_segment_address(seg);
	rec->started = true;
	BackgroundWorkerInitializeConnectionByOid(rec->dboid, rec->owner, 0);

	values[0] = TimestampTzGetDatum(rec->at);
	values[1] = CStringGetTextDatum(rec->session_role);
	values[2] = CStringGetTextDatum(rec->role_name);
	values[3] = CStringGetTextDatum(rec->controller);
	nulls[3] = rec->controller[0] ? ' ' : 'n';
	values[4] = CStringGetTextDatum(rec->action);
	values[5] = CStringGetTextDatum(rec->pseudonym);
	nulls[5] = rec->pseudonym[0] ? ' ' : 'n';
	values[6] = CStringGetTextDatum(rec->outcome);
	values[7] = Int32GetDatum(rec->pid);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "phleet audit row");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("INSERT INTO phleet.audit_log (at, session_role, role_name, controller, "
							  "action, pseudonym, outcome, backend_pid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
							  8, argtypes, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not insert into phleet.audit_log");
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	pg_write_barrier();
	rec->done = true;
	dsm_detach(seg);
	proc_exit(0);
}

/*
 * Look pseudonym up in the vault of controller and decrypt it.  Returns NULL
 * with *outcome set when the call must be refused; raises only on
 * unexpected failures.
 */
static char *
reveal_lookup(const char *controller, const char *pseudonym, const char **outcome)
{
	PhleetKey  *k;
	PhleetKind	kind;
	uint8		bytes[PHLEET_PSEUDONYM_BYTES];
	Oid			argtypes[2] = {UUIDOID, TEXTOID};
	Datum		values[2];
	Oid			save_userid;
	int			save_sec;
	int			save_nestlevel;
	bytea	   *sealed = NULL;
	VaultKey	key;
	char	   *result = NULL;

	if (!phleet_pseudonym_parse(pseudonym, strlen(pseudonym), &kind, bytes))
	{
		*outcome = "malformed";
		return NULL;
	}
	if (phleet_controller_forgotten(controller))
	{
		*outcome = "forgotten";
		return NULL;
	}
	k = phleet_key_get(controller);
	if (!phleet_pseudonym_is_ours(k, kind, pseudonym, strlen(pseudonym)))
	{
		*outcome = "not_this_controller";
		return NULL;
	}

	(void) vault_key_make(&key, controller, pseudonym);
	values[0] = PointerGetDatum(key.mac);
	values[1] = CStringGetTextDatum(controller);
	phleet_spi_as_owner_begin(&save_userid, &save_sec, &save_nestlevel);
	if (SPI_execute_with_args("SELECT sealed FROM phleet.vault WHERE mac OPERATOR(pg_catalog.=) $1 AND controller OPERATOR(pg_catalog.=) $2",
							  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read phleet.vault");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			sealed = (bytea *) SPI_datumTransfer(d, false, -1);
	}
	phleet_spi_as_owner_end(save_userid, save_sec, save_nestlevel);

	if (sealed == NULL)
	{
		*outcome = "not_in_vault";
		return NULL;
	}
	else
	{
		uint8	   *p = (uint8 *) VARDATA_ANY(sealed);
		size_t		len = VARSIZE_ANY_EXHDR(sealed);
		uint8		aad[AAD_MAXLEN];
		size_t		aadlen = vault_aad(controller, pseudonym, aad);
		size_t		ptlen;

		if (len < 1 + PHLEET_AEAD_NONCE_LEN + PHLEET_AEAD_TAG_LEN || p[0] != VAULT_VERSION)
		{
			*outcome = "corrupted";
			return NULL;
		}
		ptlen = len - 1 - PHLEET_AEAD_NONCE_LEN - PHLEET_AEAD_TAG_LEN;
		vault_key_ready(k);
		result = palloc(ptlen + 1);
		if (!phleet_aead_open(k->vault_key, p + 1, aad, aadlen,
							  p + 1 + PHLEET_AEAD_NONCE_LEN, ptlen,
							  p + 1 + PHLEET_AEAD_NONCE_LEN + ptlen, (uint8 *) result))
		{
			pfree(result);
			*outcome = "corrupted";
			return NULL;
		}
		result[ptlen] = '\0';
	}
	*outcome = "revealed";
	return result;
}

/*
 * phleet.reveal(pseudonym text) RETURNS text
 *
 * For members of phleet_reveal, in the context of the controller that made
 * the pseudonym.  Every call is committed to phleet.audit_log first.
 */
Datum
phleet_reveal(PG_FUNCTION_ARGS)
{
	text	   *arg = PG_GETARG_TEXT_PP(0);
	char	   *pseudonym = text_to_cstring(arg);
	const char *controller = phleet_context_current();
	AuditRecord rec;
	PhleetKind	kind;
	uint8		bytes[PHLEET_PSEUDONYM_BYTES];
	const char *outcome = NULL;
	char	   *value = NULL;
	ErrorData  *edata = NULL;

	audit_init(&rec, "reveal", controller);
	/* record the argument only if it is a pseudonym, never an identifier */
	if (phleet_pseudonym_parse(pseudonym, strlen(pseudonym), &kind, bytes))
		strlcpy(rec.pseudonym, pseudonym, sizeof(rec.pseudonym));

	if (!phleet_role_has_privs(GetUserId(), PHLEET_REVEAL_ROLE))
		outcome = "denied";
	else if (controller == NULL)
		outcome = "no_context";
	else
	{
		MemoryContext oldcxt = CurrentMemoryContext;
		ResourceOwner oldowner = CurrentResourceOwner;

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(oldcxt);
		PG_TRY();
		{
			value = reveal_lookup(controller, pseudonym, &outcome);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcxt);
			CurrentResourceOwner = oldowner;
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(oldcxt);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcxt);
			CurrentResourceOwner = oldowner;
			outcome = "error";
		}
		PG_END_TRY();
	}

	audit_commit(&rec, outcome);

	if (edata != NULL)
		ReThrowError(edata);
	if (value != NULL)
		PG_RETURN_TEXT_P(cstring_to_text(value));

	if (strcmp(outcome, "denied") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to reveal pseudonyms"),
				 errdetail("The attempt was recorded in phleet.audit_log."),
				 errhint("Only members of role %s may reveal identifiers.", PHLEET_REVEAL_ROLE)));
	if (strcmp(outcome, "no_context") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("no controller context for revealing a pseudonym"),
				 errdetail("The attempt was recorded in phleet.audit_log."),
				 errhint("Enter the context of the controller that made the pseudonym with phleet.enter().")));
	if (strcmp(outcome, "malformed") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value is not a pseudonym"),
				 errdetail("The attempt was recorded in phleet.audit_log, without the value."),
				 errhint("Pass a value that phleet.is_pseudonym() accepts.")));
	if (strcmp(outcome, "forgotten") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("controller \"%s\" has been forgotten", controller),
				 errdetail("phleet.controller_forget() destroyed its key: its pseudonyms can no longer be revealed.")));
	if (strcmp(outcome, "not_this_controller") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pseudonym was not made by controller \"%s\"", controller),
				 errdetail("It belongs to another controller, or was altered; the attempt was recorded in phleet.audit_log."),
				 errhint("Reveal it in the context of the controller that made it.")));
	if (strcmp(outcome, "not_in_vault") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("pseudonym cannot be revealed"),
				 errdetail("The vault of controller \"%s\" holds no identifier for it: its column is not classified with reveal => true, or the identifier was forgotten.",
						   controller)));
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("vault entry of the pseudonym failed authentication"),
			 errdetail("The entry was altered or moved; the attempt was recorded in phleet.audit_log.")));
	PG_RETURN_NULL();			/* keep compiler quiet */
}

/*
 * phleet.forget(value text, kind text) RETURNS boolean
 *
 * Deletes the vault entry of an identifier (or of a pseudonym) in the
 * current controller; true when there was one.  Recorded in
 * phleet.audit_log in the same transaction.
 */
Datum
phleet_forget(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);
	char	   *kindname = text_to_cstring(PG_GETARG_TEXT_PP(1));
	PhleetKind	kind = phleet_kind_checked(kindname);
	const char *s = VARDATA_ANY(value);
	size_t		len = VARSIZE_ANY_EXHDR(value);
	const char *controller = phleet_context_current();
	PhleetKey  *k;
	PhleetKind	pk;
	uint8		bytes[PHLEET_PSEUDONYM_BYTES];
	char		out[PHLEET_PSEUDONYM_LEN + 1];
	AuditRecord rec;
	Oid			argtypes[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[5];
	Oid			save_userid;
	int			save_sec;
	int			save_nestlevel;
	bool		deleted;
	VaultKey	key;
	StagedKey	skey;
	Oid			delargtypes[2] = {UUIDOID, TEXTOID};
	Datum		delvalues[2];

	if (controller == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("no controller context for forgetting an identifier"),
				 errhint("Enter a context first with phleet.enter() or phleet.enter_token().")));
	PreventCommandIfReadOnly("phleet.forget()");
	k = phleet_key_get(controller);
	if (phleet_pseudonym_parse(s, len, &pk, bytes))
	{
		if (!phleet_pseudonym_is_ours(k, kind, s, len))
			phleet_pseudonym_foreign_error(kind, NULL);
		memcpy(out, s, PHLEET_PSEUDONYM_LEN);
		out[PHLEET_PSEUDONYM_LEN] = '\0';
	}
	else
	{
		char		norm[PHLEET_NORMALIZED_MAXLEN + 1];

		phleet_normalize_checked(kind, s, len, norm);
		phleet_pseudonym_compute(k, kind, norm, strlen(norm), out, NULL);
		explicit_bzero(norm, sizeof(norm));
	}

	/* a later write in this transaction must queue it again */
	if (staged != NULL)
	{
		(void) vault_key_make(&key, controller, out);
		staged_key_make(&skey, controller, key.mac);
		(void) stset_delete(staged, skey);
	}
	vault_flush(false);

	audit_init(&rec, "forget", controller);
	(void) vault_key_make(&key, controller, out);
	delvalues[0] = PointerGetDatum(key.mac);
	delvalues[1] = CStringGetTextDatum(controller);
	values[0] = CStringGetTextDatum(controller);
	values[1] = CStringGetTextDatum(out);
	phleet_spi_as_owner_begin(&save_userid, &save_sec, &save_nestlevel);
	if (SPI_execute_with_args("DELETE FROM phleet.vault WHERE mac OPERATOR(pg_catalog.=) $1 AND controller OPERATOR(pg_catalog.=) $2",
							  2, delargtypes, delvalues, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete from phleet.vault");
	deleted = SPI_processed > 0;
	values[2] = CStringGetTextDatum(rec.session_role);
	values[3] = CStringGetTextDatum(rec.role_name);
	values[4] = CStringGetTextDatum(deleted ? "forgotten" : "not_in_vault");
	if (SPI_execute_with_args("INSERT INTO phleet.audit_log (at, session_role, role_name, controller, "
							  "action, pseudonym, outcome, backend_pid) "
							  "VALUES (pg_catalog.clock_timestamp(), $3, $4, $1, 'forget', $2, $5, "
							  "pg_catalog.pg_backend_pid())",
							  5, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not insert into phleet.audit_log");
	phleet_spi_as_owner_end(save_userid, save_sec, save_nestlevel);
	PG_RETURN_BOOL(deleted);
}
