/*-------------------------------------------------------------------------
 *
 * pseudonym.c
 *	  phleet.pseudonym and phleet.is_pseudonym.
 *
 * A pseudonym of an identifier, for controller C and kind K, is made of
 *
 *	mac   = HMAC-SHA256(Kp, normalize(value, K))[0..16)
 *	check = AES-256(Kc, mac)[0..4)
 *
 * where Kp = HMAC-SHA256(key(C), "phleet-pseudonym-v1/" || K) and
 * Kc = HMAC-SHA256(key(C), "phleet-pseudonym-check-v2/" || K), written as
 * text by pseudonym_format.c.  So pseudonyms are deterministic within one
 * controller and kind, unlinkable across them (independent keys), keep 128
 * bits of the MAC, and the check lets phleet recognize its own pseudonyms
 * (which pass through unchanged) and refuse those of other controllers or
 * kinds, without any lookup.  The MAC is one AES block, so the check is a
 * keyed pseudorandom function of it (AES as a PRF, 32 of its 128 bits kept)
 * for half the cost of another HMAC block.
 *
 * Invariants kept here:
 *
 * - The HMAC runs on SHA-256 states with the key blocks already absorbed,
 *   the check on an expanded AES key, both cached with the controller key
 *   in keys.c's per-backend cache (which frees them with it).
 * - Outside a controller context phleet.pseudonym() raises; it reads the
 *   context from the setting parallel workers inherit, and each worker reads
 *   and unwraps the key itself, so workers compute the leader's result.
 * - Errors never echo the identifier.
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"
#include "pseudonym.h"

#include <openssl/crypto.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

PG_FUNCTION_INFO_V1(phleet_pseudonym);
PG_FUNCTION_INFO_V1(phleet_is_pseudonym);
PG_FUNCTION_INFO_V1(phleet_identifier_valid);
PG_FUNCTION_INFO_V1(phleet_pseudonym_mac);
PG_FUNCTION_INFO_V1(phleet_pseudonym_of_mac);

#define PSEUDONYM_LABEL		"phleet-pseudonym-v1/"
#define CHECK_LABEL			"phleet-pseudonym-check-v2/"

/* Kind of the last call at one call site of phleet.pseudonym(). */
typedef struct KindCache
{
	PhleetKind	kind;
	int			len;
	char		name[16];
} KindCache;

static void pseudonym_kind_ready(PhleetKey *k, PhleetKind kind);
static PhleetKind kind_from_arg(FunctionCallInfo fcinfo, text *t);


/*
 * Derive the HMAC state and the check's AES key of kind under k, once per
 * backend and key.
 */
static void
pseudonym_kind_ready(PhleetKey *k, PhleetKind kind)
{
	char		label[64];
	uint8		sub[PHLEET_KEY_LEN];

	if (k->ready & (1u << kind))
		return;
	snprintf(label, sizeof(label), PSEUDONYM_LABEL "%s", phleet_kind_name(kind));
	phleet_hmac_derive(k->key, label, sub);
	phleet_hmac_init(&k->pseudonym[kind], sub, PHLEET_KEY_LEN);
	snprintf(label, sizeof(label), CHECK_LABEL "%s", phleet_kind_name(kind));
	phleet_hmac_derive(k->key, label, sub);
	if (k->check[kind] == NULL)
		k->check[kind] = EVP_CIPHER_CTX_new();
	if (k->check[kind] == NULL ||
		EVP_EncryptInit_ex(k->check[kind], EVP_aes_256_ecb(), NULL, sub, NULL) != 1 ||
		EVP_CIPHER_CTX_set_padding(k->check[kind], 0) != 1)
	{
		explicit_bzero(sub, sizeof(sub));
		elog(ERROR, "could not set up AES-256 for pseudonym checks");
	}
	explicit_bzero(sub, sizeof(sub));
	k->ready |= 1u << kind;
}

/* check (one AES block, 16 bytes) of a pseudonym's MAC; the kind must be ready */
static inline void
pseudonym_check(PhleetKey *k, PhleetKind kind, const uint8 *mac, uint8 *check)
{
	int			len;

	if (EVP_EncryptUpdate(k->check[kind], check, &len, mac, PHLEET_PSEUDONYM_MAC_LEN) != 1 ||
		len != PHLEET_PSEUDONYM_MAC_LEN)
		elog(ERROR, "could not compute a pseudonym check with AES-256");
}

void
phleet_pseudonym_compute(PhleetKey *k, PhleetKind kind, const char *norm, size_t len,
						 char *out, uint8 *mac_out)
{
	uint8		mac[SHA256_DIGEST_LENGTH];
	uint8		check[SHA256_DIGEST_LENGTH];
	uint8		bytes[PHLEET_PSEUDONYM_BYTES];

	pseudonym_kind_ready(k, kind);
	phleet_hmac(&k->pseudonym[kind], (const uint8 *) norm, len, mac);
	pseudonym_check(k, kind, mac, check);
	memcpy(bytes, mac, PHLEET_PSEUDONYM_MAC_LEN);
	memcpy(bytes + PHLEET_PSEUDONYM_MAC_LEN, check, PHLEET_PSEUDONYM_CHECK_LEN);
	phleet_pseudonym_format(kind, bytes, out);
	if (mac_out)
		memcpy(mac_out, mac, PHLEET_PSEUDONYM_MAC_LEN);
}

bool
phleet_pseudonym_is_ours(PhleetKey *k, PhleetKind kind, const char *s, size_t len)
{
	PhleetKind	pk;
	uint8		bytes[PHLEET_PSEUDONYM_BYTES];
	uint8		check[SHA256_DIGEST_LENGTH];

	if (!phleet_pseudonym_parse(s, len, &pk, bytes) || pk != kind)
		return false;
	pseudonym_kind_ready(k, kind);
	pseudonym_check(k, kind, bytes, check);
	return CRYPTO_memcmp(check, bytes + PHLEET_PSEUDONYM_MAC_LEN, PHLEET_PSEUDONYM_CHECK_LEN) == 0;
}

const char *
phleet_kind_description(PhleetKind kind)
{
	switch (kind)
	{
		case PHLEET_KIND_PHONE:
			return "phone number";
		case PHLEET_KIND_EMAIL:
			return "email address";
		case PHLEET_KIND_IP:
			return "IP address";
		case PHLEET_KIND_DEVICE:
			return "device id";
		case PHLEET_KIND_GENERIC:
			return "generic identifier";
		default:
			return "identifier";
	}
}

void
phleet_pseudonym_foreign_error(PhleetKind kind, const char *where)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("value is a pseudonym, but not one this controller made for kind %s%s",
					phleet_kind_name(kind), where ? where : ""),
			 errdetail("A pseudonym is valid only in the controller and for the identifier kind that made it."),
			 errhint("Write the identifier itself; phleet pseudonymizes it.")));
}

/*
 * Kind named by the text argument, remembered per call site.
 */
static PhleetKind
kind_from_arg(FunctionCallInfo fcinfo, text *t)
{
	KindCache  *cache = (KindCache *) fcinfo->flinfo->fn_extra;
	int			len = VARSIZE_ANY_EXHDR(t);
	char	   *name;
	PhleetKind	kind;

	if (cache != NULL && cache->len == len && memcmp(cache->name, VARDATA_ANY(t), len) == 0)
		return cache->kind;
	name = text_to_cstring(t);
	kind = phleet_kind_checked(name);
	if (len < (int) sizeof(cache->name))
	{
		if (cache == NULL)
			cache = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(KindCache));
		cache->kind = kind;
		cache->len = len;
		memcpy(cache->name, VARDATA_ANY(t), len);
		fcinfo->flinfo->fn_extra = cache;
	}
	return kind;
}

/*
 * phleet.pseudonym(value text, kind text DEFAULT 'generic') RETURNS text
 *
 * STABLE, STRICT, PARALLEL SAFE.  A pseudonym this controller made for this
 * kind is returned unchanged.
 */
Datum
phleet_pseudonym(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);
	PhleetKind	kind = kind_from_arg(fcinfo, PG_GETARG_TEXT_PP(1));
	const char *s = VARDATA_ANY(value);
	size_t		len = VARSIZE_ANY_EXHDR(value);
	const char *ctx = phleet_context_current();
	PhleetKey  *k;
	PhleetKind	pk;
	uint8		bytes[PHLEET_PSEUDONYM_BYTES];
	char		norm[PHLEET_NORMALIZED_MAXLEN + 1];
	size_t		normlen;
	char		out[PHLEET_PSEUDONYM_LEN + 1];

	if (ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("no controller context for computing a pseudonym"),
				 errdetail("Pseudonyms are made with the current controller's key."),
				 errhint("Enter a context first with phleet.enter() or phleet.enter_token().")));
	k = phleet_key_get(ctx);

	if (phleet_pseudonym_parse(s, len, &pk, bytes))
	{
		if (!phleet_pseudonym_is_ours(k, kind, s, len))
			phleet_pseudonym_foreign_error(kind, NULL);
		PG_RETURN_TEXT_P(value);
	}
	phleet_normalize_checked(kind, s, len, norm);
	normlen = strlen(norm);
	phleet_pseudonym_compute(k, kind, norm, normlen, out, NULL);
	/* the normalizers write their result and its NUL, nothing more */
	explicit_bzero(norm, normlen + 1);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out, PHLEET_PSEUDONYM_LEN));
}

/*
 * phleet.is_pseudonym(value text) RETURNS boolean
 *
 * True when value has the form of a pseudonym (of any controller).
 */
Datum
phleet_is_pseudonym(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);
	PhleetKind	kind;
	uint8		bytes[PHLEET_PSEUDONYM_BYTES];

	PG_RETURN_BOOL(phleet_pseudonym_parse(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value),
										  &kind, bytes));
}

/*
 * phleet._identifier_valid(value text, kind text) RETURNS boolean
 *
 * True when value normalizes as kind (pseudonyms are not identifiers).
 */
Datum
phleet_identifier_valid(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);
	PhleetKind	kind = kind_from_arg(fcinfo, PG_GETARG_TEXT_PP(1));
	PhleetKind	pk;
	uint8		bytes[PHLEET_PSEUDONYM_BYTES];
	char		norm[PHLEET_NORMALIZED_MAXLEN + 1];
	const char *why;
	bool		ok;

	if (phleet_pseudonym_parse(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), &pk, bytes))
		PG_RETURN_BOOL(false);
	ok = phleet_normalize_value(kind, VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value),
								phleet_default_country(), norm, sizeof(norm), &why);
	explicit_bzero(norm, sizeof(norm));
	PG_RETURN_BOOL(ok);
}

/*
 * phleet.pseudonym_mac(pseudonym text) RETURNS uuid
 *
 * The MAC a pseudonym encodes (the vault's key), or NULL for a value that is
 * not a pseudonym.  Needs no key: it only decodes.
 */
Datum
phleet_pseudonym_mac(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);
	PhleetKind	kind;
	uint8		bytes[PHLEET_PSEUDONYM_BYTES];
	pg_uuid_t  *mac;

	if (!phleet_pseudonym_parse(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), &kind, bytes))
		PG_RETURN_NULL();
	mac = palloc(sizeof(pg_uuid_t));
	StaticAssertStmt(UUID_LEN == PHLEET_PSEUDONYM_MAC_LEN, "a MAC must fit a uuid");
	memcpy(mac->data, bytes, UUID_LEN);
	PG_RETURN_UUID_P(mac);
}

/*
 * phleet._pseudonym_of_mac(controller text, kind text, mac uuid) RETURNS text
 *
 * The pseudonym of kind whose MAC is mac in controller: the text a column of
 * that kind holds for the identifier, found again from its vault key (the
 * check needs the controller's key).  For the purge's pruning of a vault,
 * which looks the text up in indexes on revealable columns; internal (it
 * works outside any context), executable by the extension owner only.
 */
Datum
phleet_pseudonym_of_mac(PG_FUNCTION_ARGS)
{
	char	   *controller = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PhleetKind	kind = kind_from_arg(fcinfo, PG_GETARG_TEXT_PP(1));
	pg_uuid_t  *mac = PG_GETARG_UUID_P(2);
	PhleetKey  *k;
	uint8		check[SHA256_DIGEST_LENGTH];
	uint8		bytes[PHLEET_PSEUDONYM_BYTES];
	char		out[PHLEET_PSEUDONYM_LEN + 1];

	phleet_check_handle(controller);
	k = phleet_key_get(controller);
	pseudonym_kind_ready(k, kind);
	pseudonym_check(k, kind, mac->data, check);
	memcpy(bytes, mac->data, PHLEET_PSEUDONYM_MAC_LEN);
	memcpy(bytes + PHLEET_PSEUDONYM_MAC_LEN, check, PHLEET_PSEUDONYM_CHECK_LEN);
	phleet_pseudonym_format(kind, bytes, out);
	PG_RETURN_TEXT_P(cstring_to_text(out));
}
