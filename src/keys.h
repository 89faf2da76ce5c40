/*-------------------------------------------------------------------------
 *
 * keys.h
 *	  Per-controller keys and the crypto primitives built on them, shared by
 *	  keys.c, pseudonym.c, classify.c and vault.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PHLEET_KEYS_H
#define PHLEET_KEYS_H

#include "postgres.h"

/* SHA256_CTX is the fastest way to reuse precomputed HMAC states. */
#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED
#endif
#include <openssl/sha.h>
#include <openssl/evp.h>

#include "normalize.h"
#include "token_format.h"

#define PHLEET_KEY_LEN			32
#define PHLEET_KINDS			(PHLEET_KIND_GENERIC + 1)

/* AES-256-GCM */
#define PHLEET_AEAD_NONCE_LEN	12
#define PHLEET_AEAD_TAG_LEN		16

/* HMAC-SHA256 with the key's ipad and opad blocks already absorbed. */
typedef struct PhleetHmac
{
	SHA256_CTX	inner;
	SHA256_CTX	outer;
} PhleetHmac;

/*
 * One controller's unwrapped key and the subkeys derived from it, cached per
 * backend.  A pointer returned by phleet_key_get() stays valid until the next
 * call of phleet_key_get() (invalidations only mark the cache stale).
 */
typedef struct PhleetKey
{
	char		handle[PHLEET_HANDLE_MAXLEN + 1];	/* hash key */
	bool		forgotten;		/* crypto-shredded: key is all zeros */
	uint8		key[PHLEET_KEY_LEN];
	uint32		ready;			/* bit k: pseudonym[k] and check[k] are set */
	PhleetHmac	pseudonym[PHLEET_KINDS];
	EVP_CIPHER_CTX *check[PHLEET_KINDS];	/* AES-256-ECB, freed with the entry */
	bool		vault_ready;
	uint8		vault_key[PHLEET_KEY_LEN];
} PhleetKey;

/* keys.c */
extern void KeysInit(void);
extern PhleetKey *phleet_key_get(const char *handle);
extern bool phleet_controller_forgotten(const char *handle);
extern void phleet_spi_as_owner_begin(Oid *save_userid, int *save_sec, int *save_nestlevel);
extern void phleet_spi_as_owner_end(Oid save_userid, int save_sec, int save_nestlevel);
extern void phleet_hmac_init(PhleetHmac *h, const uint8 *key, size_t keylen);
extern void phleet_hmac(const PhleetHmac *h, const uint8 *msg, size_t len,
						uint8 *out);
extern void phleet_hmac_derive(const uint8 *key, const char *label, uint8 *out);
extern bool phleet_aead_seal(const uint8 *key, const uint8 *nonce,
							 const uint8 *aad, size_t aadlen,
							 const uint8 *pt, size_t ptlen,
							 uint8 *ct, uint8 *tag);
extern bool phleet_aead_open(const uint8 *key, const uint8 *nonce,
							 const uint8 *aad, size_t aadlen,
							 const uint8 *ct, size_t ctlen,
							 const uint8 *tag, uint8 *pt);

#endif							/* PHLEET_KEYS_H */
