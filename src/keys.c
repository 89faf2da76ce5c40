/*-------------------------------------------------------------------------
 *
 * keys.c
 *	  Per-controller keys, wrapped under a master key kept outside the
 *	  database: phleet.rewrap_keys, phleet.controller_forget and the
 *	  settings phleet.master_key_file / phleet.master_key_command.
 *
 * Every controller has a random 256-bit key.  phleet.controller_keys stores
 * it wrapped with AES-256-GCM under the master key (random nonce, the
 * controller handle as associated data, so a wrapped key moved to another
 * controller fails authentication), together with the master key's id (the
 * first 8 bytes of a SHA-256 of the master key, in hex).
 *
 * Invariants kept here:
 *
 * - The master key is read from the file named by phleet.master_key_file
 *   (relative paths are relative to the data directory; the file must not be
 *   accessible to group or others; 32 raw bytes or 64 hexadecimal
 *   characters) or from the output of phleet.master_key_command, never from
 *   SQL.  Both settings are PGC_SIGHUP and visible to superusers only.
 *   phleet.previous_master_key_file / _command name the master key being
 *   retired: keys wrapped under it stay readable until phleet.rewrap_keys()
 *   has re-wrapped them under the current one.
 * - A key is created with its controller (an AFTER INSERT trigger on
 *   phleet.controllers), except when the controller row arrives through
 *   COPY (a restore, which brings the controller's key along); otherwise at
 *   first use, in a read-write transaction.
 * - Unwrapped keys live in a per-backend cache (a child of TopMemoryContext),
 *   which is marked stale on any relcache invalidation of
 *   phleet.controller_keys (a statement trigger sends one on every change)
 *   and wiped with explicit_bzero when it is dropped.
 * - phleet.controller_forget() overwrites every version of the controller's
 *   wrapped key in place (so neither the heap nor a base backup made after
 *   it holds the wrapped key) and marks the controller forgotten; a key that
 *   is all zeros counts as forgotten even if that transaction then aborted.
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"
#include "keys.h"
#include "vault.h"

#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xloginsert.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/fd.h"
#include "tcop/pquery.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(phleet_rewrap_keys);
PG_FUNCTION_INFO_V1(phleet_controller_forget);
PG_FUNCTION_INFO_V1(phleet_controller_key_create);

/* Columns of phleet.controller_keys. */
#define Anum_keys_controller		1
#define Anum_keys_wrapped_key		2
#define Anum_keys_master_key_id		3

/* Wrapped key: version byte, nonce, encrypted key, GCM tag. */
#define WRAP_VERSION		1
#define WRAPPED_LEN			(1 + PHLEET_AEAD_NONCE_LEN + PHLEET_KEY_LEN + PHLEET_AEAD_TAG_LEN)
#define WRAP_AAD_PREFIX		"phleet-controller-key-v1:"
#define MASTER_ID_LEN		16	/* hex characters */
#define MASTER_ID_LABEL		"phleet-master-key-id-v1"
#define MASTER_READ_MAX		256

typedef struct MasterKey
{
	bool		loaded;
	uint8		key[PHLEET_KEY_LEN];
	char		id[MASTER_ID_LEN + 1];
} MasterKey;

/* A row of phleet.controller_keys as read from the table. */
typedef struct KeyRow
{
	bool		found;
	bool		forgotten;		/* wrapped key NULL or all zeros */
	uint8		wrapped[WRAPPED_LEN];
	char		master_id[MASTER_ID_LEN + 1];
} KeyRow;

/* Settings. */
static char *master_key_file = NULL;
static char *master_key_command = NULL;
static char *previous_master_key_file = NULL;
static char *previous_master_key_command = NULL;

/* Master keys read so far (dropped whenever one of the settings is set). */
static MasterKey master_current;
static MasterKey master_previous;

/* Per-backend cache of unwrapped controller keys. */
static MemoryContext key_cxt = NULL;
static HTAB *key_cache = NULL;
static PhleetKey *key_last = NULL;
static bool key_cache_stale = false;
static TimestampTz key_statement = 0;	/* start of the last statement that looked */
static Oid	keys_relid = InvalidOid;

static void master_settings_assign(const char *newval, void *extra);
static void master_forget_cached(void);
static bool master_get(bool previous, MasterKey **out);
static bool master_path_shown(void);
static int	master_path_detail(bool shown, const char *guc, const char *file);
static void master_parse(const char *source, uint8 *buf,
						 size_t len, uint8 *key);
static void master_no_key_error(void);
static void key_wrap(const MasterKey *m, const char *handle, const uint8 *key,
					 uint8 *wrapped);
static bool key_unwrap(const MasterKey *m, const char *handle,
					   const uint8 *wrapped, uint8 *key);
static void key_row_read(const char *handle, bool latest, KeyRow *row);
static void key_row_unwrap(const char *handle, KeyRow *row, uint8 *key);
static void key_create(const char *handle);
static void key_cache_reset(void);
static void key_cache_invalidate(Datum arg, Oid relid);
static Oid	keys_relation(void);




/*
 * Define the master key settings and register the cache callback.
 */
void
KeysInit(void)
{
	DefineCustomStringVariable("phleet.master_key_file",
							   "File holding phleet's master key (32 raw bytes or 64 hex characters).",
							   "Relative paths are relative to the data directory.  The file must be readable by the server's operating system user only.",
							   &master_key_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, master_settings_assign, NULL);
	DefineCustomStringVariable("phleet.master_key_command",
							   "Shell command that prints phleet's master key (32 raw bytes or 64 hex characters).",
							   "Use instead of phleet.master_key_file, for instance to fetch the key from a KMS.",
							   &master_key_command, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, master_settings_assign, NULL);
	DefineCustomStringVariable("phleet.previous_master_key_file",
							   "File holding the master key being retired, during a rotation.",
							   "Keys wrapped under it stay readable until phleet.rewrap_keys() re-wraps them.",
							   &previous_master_key_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, master_settings_assign, NULL);
	DefineCustomStringVariable("phleet.previous_master_key_command",
							   "Shell command that prints the master key being retired, during a rotation.",
							   NULL,
							   &previous_master_key_command, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, master_settings_assign, NULL);

	CacheRegisterRelcacheCallback(key_cache_invalidate, (Datum) 0);
}

/* Any change of a master key setting drops the master keys read so far. */
static void
master_settings_assign(const char *newval, void *extra)
{
	master_forget_cached();
}

static void
master_forget_cached(void)
{
	explicit_bzero(&master_current, sizeof(master_current));
	explicit_bzero(&master_previous, sizeof(master_previous));
}

/*
 * Raise the error every key operation raises without a master key.
 */
static void
master_no_key_error(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("phleet has no master key"),
			 errdetail("Controller keys are stored wrapped under a master key kept outside the database, and neither phleet.master_key_file nor phleet.master_key_command is set."),
			 errhint("As the server's operating system user run: openssl rand -hex 32 > \"$PGDATA/phleet.key\" && chmod 600 \"$PGDATA/phleet.key\"; then set phleet.master_key_file = 'phleet.key' in postgresql.conf and reload the configuration.")));
}

/*
 * Whether errors may name the master key file: only to roles that may read
 * the setting (it is GUC_SUPERUSER_ONLY), judged by the session's login role
 * since the key is often first needed inside a SECURITY DEFINER function.
 * (Outside a transaction the roles cannot be looked up: not shown.)
 */
static bool
master_path_shown(void)
{
	return IsTransactionState() &&
		has_privs_of_role(GetSessionUserId(), ROLE_PG_READ_ALL_SETTINGS);
}

/* The path as the error's detail, or for other roles in the server log only. */
static int
master_path_detail(bool shown, const char *guc, const char *file)
{
	if (shown)
		return errdetail("%s is set to \"%s\"; relative paths are relative to the data directory.", guc, file);
	return errdetail_log("%s is set to \"%s\".", guc, file);
}

/*
 * Decode a master key from what a file or command produced: exactly 32
 * bytes, or 64 hexadecimal characters followed by optional white space.
 */
static void
master_parse(const char *source, uint8 *buf, size_t len, uint8 *key)
{
	size_t		i;

	if (len == PHLEET_KEY_LEN)
	{
		memcpy(key, buf, PHLEET_KEY_LEN);
		return;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
					   buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	if (len == 2 * PHLEET_KEY_LEN)
	{
		for (i = 0; i < len; i++)
			if (!isxdigit(buf[i]))
				break;
		if (i == len)
		{
			for (i = 0; i < PHLEET_KEY_LEN; i++)
			{
				char		pair[3] = {buf[2 * i], buf[2 * i + 1], '\0'};

				key[i] = (uint8) strtol(pair, NULL, 16);
			}
			return;
		}
	}
	explicit_bzero(buf, len);
	ereport(ERROR,
			(errcode(ERRCODE_CONFIG_FILE_ERROR),
			 errmsg("%s does not hold a master key", source),
			 errdetail("A master key is exactly 32 bytes, or 64 hexadecimal characters optionally followed by a newline."),
			 errhint("Create one with: openssl rand -hex 32")));
}

/*
 * The current (or, with previous, the retiring) master key.  Returns false
 * when it is not configured; raises when it is configured but unusable.
 */
static bool
master_get(bool previous, MasterKey **out)
{
	MasterKey  *m = previous ? &master_previous : &master_current;
	const char *file = previous ? previous_master_key_file : master_key_file;
	const char *command = previous ? previous_master_key_command : master_key_command;
	const char *file_guc = previous ? "phleet.previous_master_key_file" : "phleet.master_key_file";
	const char *command_guc = previous ? "phleet.previous_master_key_command" : "phleet.master_key_command";
	uint8		buf[MASTER_READ_MAX + 1];
	size_t		len;
	uint8		digest[SHA256_DIGEST_LENGTH];
	SHA256_CTX	sha;
	int			i;

	*out = m;
	if (m->loaded)
		return true;
	if ((file == NULL || file[0] == '\0') && (command == NULL || command[0] == '\0'))
		return false;
	if (file != NULL && file[0] != '\0' && command != NULL && command[0] != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("both %s and %s are set", file_guc, command_guc),
				 errhint("Set only one of them.")));

	if (file != NULL && file[0] != '\0')
	{
		struct stat st;
		FILE	   *fp;
		bool		shown = master_path_shown();

		/*
		 * The message never names the file, even to those who may see it:
		 * the purge, run by a superuser, stores messages in
		 * phleet.purge_log, where controllers read them.  The path goes to
		 * the detail and hint, or to the server log only.
		 */
		const char *name = psprintf("the master key file set in %s", file_guc);

		if (stat(file, &st) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not access %s: %m", name),
					 master_path_detail(shown, file_guc, file),
					 shown ? errhint("As the server's operating system user run: openssl rand -hex 32 > \"%s\" && chmod 600 \"%s\"", file, file)
					 : errhint("A superuser sees the path with: SHOW %s", file_guc)));
		if (!S_ISREG(st.st_mode))
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("%s is not a regular file", name),
					 master_path_detail(shown, file_guc, file)));
		if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("%s is accessible to other users", name),
					 errdetail("Its permissions are %04o; only the server's operating system user may read it.",
							   (unsigned int) (st.st_mode & 07777)),
					 shown ? errhint("Run: chmod 600 \"%s\"", file)
					 : errdetail_log("%s is set to \"%s\".", file_guc, file)));
		fp = AllocateFile(file, PG_BINARY_R);
		if (fp == NULL)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open %s: %m", name),
					 master_path_detail(shown, file_guc, file)));
		len = fread(buf, 1, sizeof(buf), fp);
		if (ferror(fp))
		{
			FreeFile(fp);
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read %s: %m", name),
					 master_path_detail(shown, file_guc, file)));
		}
		FreeFile(fp);
		master_parse(name, buf, Min(len, MASTER_READ_MAX + 1), m->key);
	}
	else
	{
		FILE	   *fp;
		int			rc;

		fflush(NULL);
		fp = OpenPipeStream(command, PG_BINARY_R);
		if (fp == NULL)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not run %s: %m", command_guc)));
		len = fread(buf, 1, sizeof(buf), fp);
		/* drain the rest so the command does not die of SIGPIPE */
		while (len == sizeof(buf) && fgetc(fp) != EOF)
			;
		rc = ClosePipeStream(fp);
		if (rc != 0)
		{
			explicit_bzero(buf, sizeof(buf));
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("%s failed", command_guc),
					 errdetail("The command %s.", wait_result_to_str(rc))));
		}
		master_parse(psprintf("the output of %s", command_guc), buf, len, m->key);
	}
	explicit_bzero(buf, sizeof(buf));

	SHA256_Init(&sha);
	SHA256_Update(&sha, MASTER_ID_LABEL, strlen(MASTER_ID_LABEL));
	SHA256_Update(&sha, m->key, PHLEET_KEY_LEN);
	SHA256_Final(digest, &sha);
	explicit_bzero(&sha, sizeof(sha));
	for (i = 0; i < MASTER_ID_LEN / 2; i++)
		snprintf(m->id + 2 * i, 3, "%02x", digest[i]);
	m->loaded = true;
	return true;
}

/*
 * Cipher context for phleet_aead_seal(), kept per backend with the key
 * schedule of the last key it sealed under: creating and keying a context
 * costs more than encrypting an identifier.  Dropped (and wiped) with the
 * key cache, and after any failure.
 */
static EVP_CIPHER_CTX *seal_ctx = NULL;
static uint8 seal_key[PHLEET_KEY_LEN];
static bool seal_keyed = false;

static void
seal_ctx_reset(void)
{
	if (seal_ctx != NULL)
		EVP_CIPHER_CTX_free(seal_ctx);	/* cleanses the key schedule */
	seal_ctx = NULL;
	explicit_bzero(seal_key, sizeof(seal_key));
	seal_keyed = false;
}

/*
 * AES-256-GCM encryption of pt[0..ptlen) into ct (same length) and tag.
 * Returns false on an OpenSSL failure; raises nothing.
 */
bool
phleet_aead_seal(const uint8 *key, const uint8 *nonce, const uint8 *aad, size_t aadlen,
				 const uint8 *pt, size_t ptlen, uint8 *ct, uint8 *tag)
{
	int			len;
	bool		ok;

	if (seal_ctx == NULL)
	{
		seal_ctx = EVP_CIPHER_CTX_new();
		if (seal_ctx == NULL ||
			EVP_EncryptInit_ex(seal_ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
			EVP_CIPHER_CTX_ctrl(seal_ctx, EVP_CTRL_GCM_SET_IVLEN, PHLEET_AEAD_NONCE_LEN, NULL) != 1)
		{
			seal_ctx_reset();
			return false;
		}
	}
	if (seal_keyed && CRYPTO_memcmp(seal_key, key, PHLEET_KEY_LEN) == 0)
		ok = EVP_EncryptInit_ex(seal_ctx, NULL, NULL, NULL, nonce) == 1;
	else
	{
		seal_keyed = false;
		ok = EVP_EncryptInit_ex(seal_ctx, NULL, NULL, key, nonce) == 1;
		if (ok)
		{
			memcpy(seal_key, key, PHLEET_KEY_LEN);
			seal_keyed = true;
		}
	}
	ok = ok &&
		(aadlen == 0 || EVP_EncryptUpdate(seal_ctx, NULL, &len, aad, (int) aadlen) == 1) &&
		EVP_EncryptUpdate(seal_ctx, ct, &len, pt, (int) ptlen) == 1 &&
		EVP_EncryptFinal_ex(seal_ctx, ct + len, &len) == 1 &&
		EVP_CIPHER_CTX_ctrl(seal_ctx, EVP_CTRL_GCM_GET_TAG, PHLEET_AEAD_TAG_LEN, tag) == 1;
	if (!ok)
		seal_ctx_reset();
	return ok;
}

/*
 * AES-256-GCM decryption; false when ct, tag, nonce or aad were altered or
 * the key is wrong.  pt must have room for ctlen bytes.
 */
bool
phleet_aead_open(const uint8 *key, const uint8 *nonce, const uint8 *aad, size_t aadlen,
				 const uint8 *ct, size_t ctlen, const uint8 *tag, uint8 *pt)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int			len;
	bool		ok;

	ok = ctx != NULL &&
		EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, PHLEET_AEAD_NONCE_LEN, NULL) == 1 &&
		EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) == 1 &&
		(aadlen == 0 || EVP_DecryptUpdate(ctx, NULL, &len, aad, (int) aadlen) == 1) &&
		EVP_DecryptUpdate(ctx, pt, &len, ct, (int) ctlen) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, PHLEET_AEAD_TAG_LEN, (void *) tag) == 1 &&
		EVP_DecryptFinal_ex(ctx, pt + len, &len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		explicit_bzero(pt, ctlen);
	return ok;
}

/*
 * Precompute HMAC-SHA256 under key (at most 64 bytes).
 */
void
phleet_hmac_init(PhleetHmac *h, const uint8 *key, size_t keylen)
{
	uint8		pad[SHA256_CBLOCK];
	int			i;

	Assert(keylen <= SHA256_CBLOCK);
	memset(pad, 0, sizeof(pad));
	memcpy(pad, key, keylen);
	for (i = 0; i < SHA256_CBLOCK; i++)
		pad[i] ^= 0x36;
	SHA256_Init(&h->inner);
	SHA256_Update(&h->inner, pad, SHA256_CBLOCK);
	for (i = 0; i < SHA256_CBLOCK; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	SHA256_Init(&h->outer);
	SHA256_Update(&h->outer, pad, SHA256_CBLOCK);
	explicit_bzero(pad, sizeof(pad));
}

/*
 * HMAC-SHA256 of msg[0..len) with a precomputed state; out gets 32 bytes.
 */
void
phleet_hmac(const PhleetHmac *h, const uint8 *msg, size_t len, uint8 *out)
{
	SHA256_CTX	c;

	c = h->inner;
	SHA256_Update(&c, msg, len);
	SHA256_Final(out, &c);
	c = h->outer;
	SHA256_Update(&c, out, SHA256_DIGEST_LENGTH);
	SHA256_Final(out, &c);
	explicit_bzero(&c, sizeof(c));
}

/*
 * out (32 bytes) = HMAC-SHA256(key, label): a subkey for one purpose.
 */
void
phleet_hmac_derive(const uint8 *key, const char *label, uint8 *out)
{
	PhleetHmac	h;

	phleet_hmac_init(&h, key, PHLEET_KEY_LEN);
	phleet_hmac(&h, (const uint8 *) label, strlen(label), out);
	explicit_bzero(&h, sizeof(h));
}

/* Associated data binding a wrapped key to its controller. */
static size_t
wrap_aad(const char *handle, uint8 *aad)
{
	size_t		plen = strlen(WRAP_AAD_PREFIX);
	size_t		hlen = strlen(handle);

	memcpy(aad, WRAP_AAD_PREFIX, plen);
	memcpy(aad + plen, handle, hlen);
	return plen + hlen;
}

/*
 * Wrap a controller key under master key m.
 */
static void
key_wrap(const MasterKey *m, const char *handle, const uint8 *key, uint8 *wrapped)
{
	uint8		aad[sizeof(WRAP_AAD_PREFIX) + PHLEET_HANDLE_MAXLEN];
	size_t		aadlen = wrap_aad(handle, aad);

	wrapped[0] = WRAP_VERSION;
	if (!pg_strong_random(wrapped + 1, PHLEET_AEAD_NONCE_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bytes")));
	if (!phleet_aead_seal(m->key, wrapped + 1, aad, aadlen, key, PHLEET_KEY_LEN,
						  wrapped + 1 + PHLEET_AEAD_NONCE_LEN,
						  wrapped + 1 + PHLEET_AEAD_NONCE_LEN + PHLEET_KEY_LEN))
		elog(ERROR, "could not wrap a controller key with AES-256-GCM");
}

/*
 * Unwrap a controller key; false when it fails authentication.
 */
static bool
key_unwrap(const MasterKey *m, const char *handle, const uint8 *wrapped, uint8 *key)
{
	uint8		aad[sizeof(WRAP_AAD_PREFIX) + PHLEET_HANDLE_MAXLEN];
	size_t		aadlen = wrap_aad(handle, aad);

	if (wrapped[0] != WRAP_VERSION)
		return false;
	return phleet_aead_open(m->key, wrapped + 1, aad, aadlen,
							wrapped + 1 + PHLEET_AEAD_NONCE_LEN, PHLEET_KEY_LEN,
							wrapped + 1 + PHLEET_AEAD_NONCE_LEN + PHLEET_KEY_LEN, key);
}

/* OID of phleet.controller_keys, remembered for the relcache callback. */
static Oid
keys_relation(void)
{
	if (!OidIsValid(keys_relid))
		keys_relid = phleet_relid("controller_keys", false);
	return keys_relid;
}

/*
 * Read the key row of handle, bypassing privileges (phleet reading its own
 * table).  With latest, sees rows committed since the statement began.
 */
static void
key_row_read(const char *handle, bool latest, KeyRow *row)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData skey;
	HeapTuple	tup;
	Snapshot	snap = NULL;

	memset(row, 0, sizeof(*row));
	rel = table_open(keys_relation(), AccessShareLock);
	if (latest)
		snap = RegisterSnapshot(GetLatestSnapshot());
	ScanKeyInit(&skey, Anum_keys_controller, BTEqualStrategyNumber,
				F_TEXTEQ, CStringGetTextDatum(handle));
	scan = systable_beginscan(rel, RelationGetPrimaryKeyIndex(rel), true,
							  snap, 1, &skey);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		Datum		d;

		row->found = true;
		d = heap_getattr(tup, Anum_keys_wrapped_key, desc, &isnull);
		if (isnull)
			row->forgotten = true;
		else
		{
			bytea	   *b = DatumGetByteaPP(d);
			size_t		i;

			if (VARSIZE_ANY_EXHDR(b) != WRAPPED_LEN)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("wrapped key of controller \"%s\" has %d bytes, not %d",
								handle, (int) VARSIZE_ANY_EXHDR(b), WRAPPED_LEN)));
			memcpy(row->wrapped, VARDATA_ANY(b), WRAPPED_LEN);
			row->forgotten = true;
			for (i = 0; i < WRAPPED_LEN; i++)
				if (row->wrapped[i] != 0)
					row->forgotten = false;
		}
		d = heap_getattr(tup, Anum_keys_master_key_id, desc, &isnull);
		if (!isnull)
			text_to_cstring_buffer(DatumGetTextPP(d), row->master_id, sizeof(row->master_id));
	}
	systable_endscan(scan);
	if (snap)
		UnregisterSnapshot(snap);
	table_close(rel, AccessShareLock);
}

/*
 * Unwrap a row's key with the master key whose id it records, re-reading
 * the master key sources once if neither configured key has that id.
 */
static void
key_row_unwrap(const char *handle, KeyRow *row, uint8 *key)
{
	int			attempt;

	for (attempt = 0; attempt < 2; attempt++)
	{
		MasterKey  *cur;
		MasterKey  *prev;
		bool		have_cur = master_get(false, &cur);
		bool		have_prev = master_get(true, &prev);
		MasterKey  *m = NULL;

		if (!have_cur && !have_prev)
			master_no_key_error();
		if (have_cur && strcmp(cur->id, row->master_id) == 0)
			m = cur;
		else if (have_prev && strcmp(prev->id, row->master_id) == 0)
			m = prev;
		if (m != NULL)
		{
			if (!key_unwrap(m, handle, row->wrapped, key))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("could not unwrap the key of controller \"%s\"", handle),
						 errdetail("The wrapped key failed authentication: it was altered or belongs to another controller.")));
			return;
		}
		master_forget_cached();
	}
	{
		MasterKey  *cur;

		(void) master_get(false, &cur);
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("key of controller \"%s\" is wrapped under master key %s, which is not configured",
					handle, row->master_id),
			 errdetail("The current master key is %s.",
					   master_current.loaded ? master_current.id : "not configured"),
			 errhint("Set phleet.previous_master_key_file to the master key it was wrapped under and run phleet.rewrap_keys(), or restore the right phleet.master_key_file.")));
}

/*
 * Connect to SPI running as the owner of phleet's tables (the owner of
 * phleet.controller_keys), so that phleet can read and write its own tables
 * whatever the calling role may do, with search_path pg_catalog, pg_temp:
 * that owner is the extension's, a superuser, and the caller's search_path
 * could otherwise slip in an operator or function of its own (run as that
 * superuser).  phleet_spi_as_owner_end() undoes all three; on error, the
 * abort of the (sub)transaction does.
 */
void
phleet_spi_as_owner_begin(Oid *save_userid, int *save_sec, int *save_nestlevel)
{
	Oid			owner;
	Relation	rel = table_open(keys_relation(), AccessShareLock);

	owner = rel->rd_rel->relowner;
	table_close(rel, AccessShareLock);
	GetUserIdAndSecContext(save_userid, save_sec);
	SetUserIdAndSecContext(owner, *save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	*save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

void
phleet_spi_as_owner_end(Oid save_userid, int save_sec, int save_nestlevel)
{
	SPI_finish();
	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec);
}

/*
 * Create a random key for handle, wrapped under the current master key,
 * unless another transaction has just created one.
 */
static void
key_create(const char *handle)
{
	MasterKey  *m;
	uint8		key[PHLEET_KEY_LEN];
	uint8		wrapped[VARHDRSZ + WRAPPED_LEN];
	Oid			argtypes[3] = {TEXTOID, BYTEAOID, TEXTOID};
	Datum		values[3];
	Oid			save_userid;
	int			save_sec;
	int			save_nestlevel;

	if (!master_get(false, &m))
		master_no_key_error();
	if (!pg_strong_random(key, PHLEET_KEY_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random controller key")));
	SET_VARSIZE(wrapped, VARHDRSZ + WRAPPED_LEN);
	key_wrap(m, handle, key, (uint8 *) VARDATA(wrapped));
	explicit_bzero(key, sizeof(key));

	values[0] = CStringGetTextDatum(handle);
	values[1] = PointerGetDatum(wrapped);
	values[2] = CStringGetTextDatum(m->id);
	phleet_spi_as_owner_begin(&save_userid, &save_sec, &save_nestlevel);
	if (SPI_execute_with_args("INSERT INTO phleet.controller_keys (controller, wrapped_key, master_key_id) "
							  "VALUES ($1, $2, $3) ON CONFLICT (controller) DO NOTHING",
							  3, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store the key of controller \"%s\"", handle);
	phleet_spi_as_owner_end(save_userid, save_sec, save_nestlevel);
	CommandCounterIncrement();
}

/*
 * Drop the cached keys, wiping them.
 */
static void
key_cache_reset(void)
{
	if (key_cache != NULL)
	{
		HASH_SEQ_STATUS status;
		PhleetKey  *entry;

		hash_seq_init(&status, key_cache);
		while ((entry = (PhleetKey *) hash_seq_search(&status)) != NULL)
		{
			int			i;

			for (i = 0; i < PHLEET_KINDS; i++)
				if (entry->check[i] != NULL)
					EVP_CIPHER_CTX_free(entry->check[i]);	/* cleanses the key schedule */
			explicit_bzero(entry, sizeof(*entry));
		}
		hash_destroy(key_cache);
		key_cache = NULL;
	}
	key_last = NULL;
	key_cache_stale = false;
	keys_relid = InvalidOid;
	seal_ctx_reset();
}

/*
 * Relcache callback: cached keys go stale when phleet.controller_keys
 * changes (and on a full reset).  They are dropped at the next lookup, so
 * pointers handed out stay valid until then.
 */
static void
key_cache_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == keys_relid)
		key_cache_stale = true;
}

/*
 * The key of controller handle, unwrapped and cached; raises when there is
 * no master key, when the controller was forgotten, or when it has no key
 * and one cannot be created here.
 */
PhleetKey *
phleet_key_get(const char *handle)
{
	PhleetKey  *entry;
	KeyRow		row;
	uint8		key[PHLEET_KEY_LEN];
	bool		found;

	/*
	 * Once per statement, take in the invalidations other sessions sent (a
	 * statement that locks no new relation would not): a controller_forget()
	 * committed since the last statement applies to this one, also in a
	 * transaction that already used the key.
	 */
	if (GetCurrentStatementStartTimestamp() != key_statement)
	{
		key_statement = GetCurrentStatementStartTimestamp();
		AcceptInvalidationMessages();
	}
	if (key_cache_stale)
		key_cache_reset();
	if (key_last != NULL && strcmp(key_last->handle, handle) == 0)
		entry = key_last;
	else
	{
		entry = key_cache ? (PhleetKey *) hash_search(key_cache, handle, HASH_FIND, NULL) : NULL;
		if (entry == NULL)
		{
			key_row_read(handle, false, &row);
			if (!row.found)
			{
				const char *why = NULL;

				if (RecoveryInProgress())
					why = "the server is a standby";
				else if (IsInParallelMode())
					why = "it is needed by a parallel query";
				else if (XactReadOnly)
					why = "the transaction is read-only";
				if (why != NULL)
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("controller \"%s\" has no key yet", handle),
							 errdetail("A controller's key is created with the controller, or at its first use in a read-write transaction; here %s.", why),
							 errhint("A member of phleet_admin can create missing keys with SELECT phleet.rewrap_keys();")));
				if (!phleet_controller_exists(handle))
					ereport(ERROR,
							(errcode(ERRCODE_UNDEFINED_OBJECT),
							 errmsg("controller \"%s\" does not exist", handle)));
				key_create(handle);
				key_row_read(handle, true, &row);
				if (!row.found)
					elog(ERROR, "key of controller \"%s\" vanished after it was created", handle);
			}
			if (!row.forgotten)
				key_row_unwrap(handle, &row, key);
			explicit_bzero(row.wrapped, sizeof(row.wrapped));

			/* SPI or lock waits above may have processed invalidations */
			if (key_cache_stale)
				key_cache_reset();
			if (key_cache == NULL)
			{
				HASHCTL		ctl;

				if (key_cxt == NULL)
					key_cxt = AllocSetContextCreate(TopMemoryContext, "phleet controller keys",
													ALLOCSET_SMALL_SIZES);
				ctl.keysize = PHLEET_HANDLE_MAXLEN + 1;
				ctl.entrysize = sizeof(PhleetKey);
				ctl.hcxt = key_cxt;
				key_cache = hash_create("phleet controller keys", 64, &ctl,
										HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
			}
			entry = (PhleetKey *) hash_search(key_cache, handle, HASH_ENTER, &found);
			memset(((char *) entry) + offsetof(PhleetKey, forgotten), 0,
				   sizeof(PhleetKey) - offsetof(PhleetKey, forgotten));
			entry->forgotten = row.forgotten;
			if (!row.forgotten)
				memcpy(entry->key, key, PHLEET_KEY_LEN);
			explicit_bzero(key, sizeof(key));
		}
		key_last = entry;
	}

	if (entry->forgotten)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("controller \"%s\" has been forgotten", handle),
				 errdetail("phleet.controller_forget() destroyed its key: its pseudonyms can no longer be computed or revealed.")));
	return entry;
}

/*
 * True when controller handle was forgotten (crypto-shredded).
 */
bool
phleet_controller_forgotten(const char *handle)
{
	KeyRow		row;

	key_row_read(handle, false, &row);
	explicit_bzero(row.wrapped, sizeof(row.wrapped));
	return row.found && row.forgotten;
}

/*
 * AFTER INSERT row trigger on phleet.controllers: a new controller gets its
 * key now when a master key is configured (else at first use).  Rows loaded
 * by COPY, as a restore does, bring their keys with them.
 */
Datum
phleet_controller_key_create(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	MasterKey  *m;
	bool		isnull;
	Datum		d;
	char	   *handle;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"controller_key_create\" must be fired AFTER INSERT FOR EACH ROW")));

	if (ActivePortal != NULL && ActivePortal->commandTag == CMDTAG_COPY)
		PG_RETURN_POINTER(NULL);
	if (!master_get(false, &m))
		PG_RETURN_POINTER(NULL);

	d = heap_getattr(td->tg_trigtuple, 1, RelationGetDescr(td->tg_relation), &isnull);
	if (isnull)
		PG_RETURN_POINTER(NULL);
	handle = TextDatumGetCString(d);
	key_create(handle);
	PG_RETURN_POINTER(NULL);
}

/*
 * phleet.rewrap_keys() RETURNS integer
 *
 * Re-wraps under the current master key every key wrapped under another
 * (the previous master key must be configured for those), and creates the
 * keys of controllers that have none.  Returns how many keys it wrote.
 * SECURITY DEFINER, EXECUTE granted to phleet_admin only.
 */
Datum
phleet_rewrap_keys(PG_FUNCTION_ARGS)
{
	MasterKey  *cur;
	int			written = 0;
	uint64		i;
	uint64		n;
	SPITupleTable *tt;
	List	   *missing = NIL;
	ListCell   *lc;

	if (!master_get(false, &cur))
		master_no_key_error();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SPI_execute("LOCK TABLE phleet.controller_keys IN SHARE ROW EXCLUSIVE MODE", false, 0);
	if (SPI_execute("SELECT controller, wrapped_key, master_key_id FROM phleet.controller_keys "
					"WHERE wrapped_key IS NOT NULL ORDER BY controller", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read phleet.controller_keys");
	tt = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		char	   *handle = SPI_getvalue(tt->vals[i], tt->tupdesc, 1);
		bytea	   *b = DatumGetByteaPP(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
		char	   *id = SPI_getvalue(tt->vals[i], tt->tupdesc, 3);
		KeyRow		row;
		uint8		key[PHLEET_KEY_LEN];
		uint8		wrapped[VARHDRSZ + WRAPPED_LEN];
		Oid			argtypes[3] = {TEXTOID, BYTEAOID, TEXTOID};
		Datum		values[3];
		size_t		j;

		if (id != NULL && strcmp(id, cur->id) == 0)
			continue;
		memset(&row, 0, sizeof(row));
		row.found = true;
		if (VARSIZE_ANY_EXHDR(b) != WRAPPED_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("wrapped key of controller \"%s\" has %d bytes, not %d",
							handle, (int) VARSIZE_ANY_EXHDR(b), WRAPPED_LEN)));
		memcpy(row.wrapped, VARDATA_ANY(b), WRAPPED_LEN);
		/* zeroed by a controller_forget() that then failed: forgotten */
		row.forgotten = true;
		for (j = 0; j < WRAPPED_LEN; j++)
			if (row.wrapped[j] != 0)
				row.forgotten = false;
		if (row.forgotten)
			continue;
		strlcpy(row.master_id, id ? id : "", sizeof(row.master_id));
		key_row_unwrap(handle, &row, key);
		if (!master_get(false, &cur))
			master_no_key_error();
		SET_VARSIZE(wrapped, VARHDRSZ + WRAPPED_LEN);
		key_wrap(cur, handle, key, (uint8 *) VARDATA(wrapped));
		explicit_bzero(key, sizeof(key));
		values[0] = CStringGetTextDatum(handle);
		values[1] = PointerGetDatum(wrapped);
		values[2] = CStringGetTextDatum(cur->id);
		if (SPI_execute_with_args("UPDATE phleet.controller_keys SET wrapped_key = $2, master_key_id = $3, "
								  "rewrapped_at = pg_catalog.now() WHERE controller = $1",
								  3, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE ||
			SPI_processed != 1)
			elog(ERROR, "could not re-wrap the key of controller \"%s\"", handle);
		written++;
	}

	if (SPI_execute("SELECT c.handle FROM phleet.controllers c WHERE NOT EXISTS "
					"(SELECT FROM phleet.controller_keys k WHERE k.controller = c.handle) "
					"ORDER BY c.handle", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read phleet.controllers");
	for (i = 0; i < SPI_processed; i++)
		missing = lappend(missing, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	SPI_finish();

	foreach(lc, missing)
	{
		key_create((const char *) lfirst(lc));
		written++;
	}
	PG_RETURN_INT32(written);
}

/*
 * Zero the wrapped key of handle in every version of its row in rel (every
 * tuple on every page, dead ones too), and the free space of every page
 * (where pruning leaves the bytes of the versions it moved or removed),
 * page by page: each page changed is written to the WAL as a whole image
 * taken after the change, so neither the WAL written from here on nor a
 * base backup holds the key.  The caller holds an AccessExclusiveLock on
 * rel.
 */
static void
keys_wipe(Relation rel, const char *handle)
{
	TupleDesc	desc = RelationGetDescr(rel);
	BlockNumber nblocks = RelationGetNumberOfBlocks(rel);
	BlockNumber blkno;

	for (blkno = 0; blkno < nblocks; blkno++)
	{
		Buffer		buf = ReadBuffer(rel, blkno);
		Page		page;
		OffsetNumber off;
		OffsetNumber maxoff;
		OffsetNumber hits[MaxHeapTuplesPerPage];
		int			nhits = 0;
		int			i;
		bool		hole;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		maxoff = PageGetMaxOffsetNumber(page);
		for (off = FirstOffsetNumber; off <= maxoff; off = OffsetNumberNext(off))
		{
			ItemId		iid = PageGetItemId(page, off);
			HeapTupleData tup;
			bool		isnull;
			Datum		d;

			if (!ItemIdIsNormal(iid))
				continue;
			tup.t_data = (HeapTupleHeader) PageGetItem(page, iid);
			tup.t_len = ItemIdGetLength(iid);
			tup.t_tableOid = RelationGetRelid(rel);
			ItemPointerSet(&tup.t_self, blkno, off);
			d = heap_getattr(&tup, Anum_keys_controller, desc, &isnull);
			if (isnull || strcmp(TextDatumGetCString(d), handle) != 0)
				continue;
			d = heap_getattr(&tup, Anum_keys_wrapped_key, desc, &isnull);
			if (isnull)
				continue;
			if (VARATT_IS_EXTERNAL(DatumGetPointer(d)) ||
				VARATT_IS_COMPRESSED(DatumGetPointer(d)))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("wrapped key of controller \"%s\" is stored compressed or out of line", handle),
						 errdetail("It could not be overwritten in place.")));
			hits[nhits++] = off;
		}

		/*
		 * The free space between the line pointers and the tuples keeps the
		 * bytes of tuples that pruning moved or removed (an old version of a
		 * re-wrapped key): zero it too.  The page image below leaves that
		 * hole out, and replay fills it with zeros.
		 */
		hole = false;
		for (i = ((PageHeader) page)->pd_lower; i < ((PageHeader) page)->pd_upper && !hole; i++)
			hole = ((char *) page)[i] != 0;
		if (nhits > 0 || hole)
		{
			START_CRIT_SECTION();
			memset((char *) page + ((PageHeader) page)->pd_lower, 0,
				   ((PageHeader) page)->pd_upper - ((PageHeader) page)->pd_lower);
			for (i = 0; i < nhits; i++)
			{
				ItemId		iid = PageGetItemId(page, hits[i]);
				HeapTupleData tup;
				bool		isnull;
				struct varlena *w;

				tup.t_data = (HeapTupleHeader) PageGetItem(page, iid);
				tup.t_len = ItemIdGetLength(iid);
				w = (struct varlena *) DatumGetPointer(heap_getattr(&tup, Anum_keys_wrapped_key, desc, &isnull));
				memset(VARDATA_ANY(w), 0, VARSIZE_ANY_EXHDR(w));
			}
			MarkBufferDirty(buf);
			if (RelationNeedsWAL(rel))
				log_newpage_buffer(buf, true);
			END_CRIT_SECTION();
		}
		UnlockReleaseBuffer(buf);
	}
}

/*
 * phleet.controller_forget(handle text) RETURNS void
 *
 * Crypto-shredding: deletes the controller's vault entries, marks it
 * forgotten and, last, overwrites in place every stored version of its
 * wrapped key (dead ones included), so that no base backup made afterwards
 * holds it.  The overwrite is not transactional, so the function refuses to
 * run inside a transaction block: it is irreversible.  SECURITY DEFINER,
 * EXECUTE granted to phleet_admin only.
 */
Datum
phleet_controller_forget(PG_FUNCTION_ARGS)
{
	char	   *handle;
	Relation	rel;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("controller must not be null")));
	handle = text_to_cstring(PG_GETARG_TEXT_PP(0));
	phleet_check_handle(handle);
	if (!phleet_controller_exists(handle))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("controller \"%s\" does not exist", handle)));
	PreventInTransactionBlock(true, "phleet.controller_forget()");
	PreventCommandIfReadOnly("phleet.controller_forget()");
	PreventCommandIfParallelMode("phleet.controller_forget()");

	/*
	 * Wait for the transactions writing the controller's revealable columns
	 * (their vault entries must be committed before the DELETE below reads
	 * the vault) and keep new ones out until this one commits: they take the
	 * lock before they fetch the key, and find it gone.  The DELETE needs a
	 * snapshot taken after the wait.
	 */
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("phleet.controller_forget() must run at isolation level READ COMMITTED"),
				 errhint("SET default_transaction_isolation = 'read committed' first.")));
	phleet_vault_lock_exclusive(handle);

	/* the exclusive lock keeps others from pruning the page under us */
	rel = table_open(keys_relation(), AccessExclusiveLock);

	/*
	 * Overwrite the wrapped key in every version of the row first: the first
	 * change of a page after a checkpoint puts an image of the whole page
	 * into the WAL, and that image must not hold the key.
	 */
	keys_wipe(rel, handle);

	values[0] = CStringGetTextDatum(handle);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("DELETE FROM phleet.vault WHERE controller OPERATOR(pg_catalog.=) $1",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete the vault of controller \"%s\"", handle);
	if (SPI_execute_with_args("INSERT INTO phleet.controller_keys AS k (controller, wrapped_key, master_key_id, forgotten_at) "
							  "VALUES ($1, NULL, NULL, pg_catalog.now()) "
							  "ON CONFLICT (controller) DO UPDATE SET wrapped_key = NULL, master_key_id = NULL, "
							  "forgotten_at = COALESCE(k.forgotten_at, pg_catalog.now())",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not mark controller \"%s\" forgotten", handle);
	SPI_finish();
	CommandCounterIncrement();

	table_close(rel, NoLock);
	PG_RETURN_VOID();
}
