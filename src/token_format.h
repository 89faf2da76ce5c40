/*-------------------------------------------------------------------------
 *
 * token_format.h
 *	  Pure parsing of controller handles and context tokens.
 *
 * Nothing here calls the backend: token_format.c builds on its own, so the
 * fuzz harnesses in fuzz/ link it directly.
 *
 * A token is four dot-separated fields:
 *
 *		phleet1.<handle>.<expiry>.<signature>
 *
 * <handle> is a controller handle, <expiry> the expiry time in whole seconds
 * since 1970-01-01 UTC (decimal, 1 to 12 digits, no sign), and <signature>
 * the unpadded base64url encoding of HMAC-SHA256(secret, "phleet1.<handle>.<expiry>").
 *
 *-------------------------------------------------------------------------
 */
#ifndef TOKEN_FORMAT_H
#define TOKEN_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PHLEET_HANDLE_MAXLEN	63
#define PHLEET_TOKEN_VERSION	"phleet1"
#define PHLEET_MAC_LEN			32
#define PHLEET_MAC_B64_LEN		43	/* unpadded base64url of 32 bytes */
#define PHLEET_EXPIRY_MAXDIGITS 12
/* version + handle + expiry + signature + 3 dots */
#define PHLEET_TOKEN_MAXLEN		(7 + PHLEET_HANDLE_MAXLEN + PHLEET_EXPIRY_MAXDIGITS + PHLEET_MAC_B64_LEN + 3)

typedef enum PhleetTokenStatus
{
	PHLEET_TOKEN_OK = 0,
	PHLEET_TOKEN_MALFORMED,		/* not four fields, or too long */
	PHLEET_TOKEN_BAD_VERSION,	/* first field is not "phleet1" */
	PHLEET_TOKEN_BAD_HANDLE,	/* second field is not a valid handle */
	PHLEET_TOKEN_BAD_EXPIRY,	/* third field is not 1-12 decimal digits */
	PHLEET_TOKEN_TRUNCATED,		/* signature shorter than 43 characters */
	PHLEET_TOKEN_BAD_SIGNATURE	/* signature not 43 base64url characters */
} PhleetTokenStatus;

typedef struct PhleetToken
{
	char		handle[PHLEET_HANDLE_MAXLEN + 1];
	int64_t		expiry;			/* seconds since the Unix epoch */
	size_t		signed_len;		/* length of the signed prefix of the token */
	uint8_t		mac[PHLEET_MAC_LEN];
} PhleetToken;

extern bool phleet_handle_valid(const char *s, size_t len);
extern PhleetTokenStatus phleet_token_parse(const char *s, size_t len,
											PhleetToken *out);
extern size_t phleet_base64url_encode(const uint8_t *src, size_t len, char *dst);
extern bool phleet_base64url_decode(const char *src, size_t len, uint8_t *dst,
									size_t dstlen);

#endif							/* TOKEN_FORMAT_H */
