/*-------------------------------------------------------------------------
 *
 * token_fuzz.c
 *	  libFuzzer harness for src/token_format.c.
 *
 * FUZZ_SOURCES: src/token_format.c
 *
 * Every input is used four ways, each on a buffer of exactly the size
 * given, so AddressSanitizer catches any read or write past it:
 *	- phleet_token_parse(): on success the handle is valid, the signed
 *	  prefix ends right before the last dot, the expiry is the decimal
 *	  third field and re-encoding the MAC gives the fourth field back;
 *	- phleet_handle_valid() agrees with a plain reading of the rule;
 *	- base64url: decode(encode(x)) == x;
 *	- base64url: a successful decode re-encodes to the same text.
 *
 *-------------------------------------------------------------------------
 */
#include "token_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static void
check_parse(const char *s, size_t len)
{
	PhleetToken tok;
	PhleetTokenStatus st = phleet_token_parse(s, len, &tok);
	char		sig[PHLEET_MAC_B64_LEN + 1];
	const char *expiry;
	size_t		i;
	long long	v = 0;

	if (st != PHLEET_TOKEN_OK)
	{
		CHECK(st >= PHLEET_TOKEN_MALFORMED && st <= PHLEET_TOKEN_BAD_SIGNATURE);
		return;
	}
	CHECK(len <= PHLEET_TOKEN_MAXLEN);
	CHECK(phleet_handle_valid(tok.handle, strlen(tok.handle)));
	CHECK(tok.signed_len + 1 + PHLEET_MAC_B64_LEN == len);
	CHECK(s[tok.signed_len] == '.');
	CHECK(memcmp(s, PHLEET_TOKEN_VERSION ".", 8) == 0);
	CHECK(memcmp(s + 8, tok.handle, strlen(tok.handle)) == 0);
	expiry = s + 8 + strlen(tok.handle) + 1;
	for (i = 0; expiry + i < s + tok.signed_len; i++)
	{
		CHECK(expiry[i] >= '0' && expiry[i] <= '9');
		v = v * 10 + (expiry[i] - '0');
	}
	CHECK(i >= 1 && i <= PHLEET_EXPIRY_MAXDIGITS && v == tok.expiry);
	CHECK(phleet_base64url_encode(tok.mac, PHLEET_MAC_LEN, sig) == PHLEET_MAC_B64_LEN);
	CHECK(memcmp(sig, s + tok.signed_len + 1, PHLEET_MAC_B64_LEN) == 0);
}

static void
check_handle(const char *s, size_t len)
{
	bool		expect = len >= 1 && len <= PHLEET_HANDLE_MAXLEN;
	size_t		i;

	for (i = 0; expect && i < len; i++)
		expect = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
			s[i] == '_' || s[i] == '-';
	CHECK(phleet_handle_valid(s, len) == expect);
}

static void
check_base64(const uint8_t *data, size_t size)
{
	size_t		enclen = (4 * size + 2) / 3;
	char	   *enc = malloc(enclen + 1);
	uint8_t    *dec = malloc(size ? size : 1);
	size_t		dstlen;

	CHECK(enc && dec);
	CHECK(phleet_base64url_encode(data, size, enc) == enclen);
	CHECK(enc[enclen] == '\0');
	CHECK(phleet_base64url_decode(enc, enclen, dec, size));
	CHECK(memcmp(dec, data, size) == 0);
	free(enc);
	free(dec);

	/* the input as base64url text, decoded to the length it would encode */
	dstlen = size * 3 / 4;
	dec = malloc(dstlen ? dstlen : 1);
	CHECK(dec);
	if (phleet_base64url_decode((const char *) data, size, dec, dstlen))
	{
		enc = malloc((4 * dstlen + 2) / 3 + 1);
		CHECK(enc);
		CHECK(phleet_base64url_encode(dec, dstlen, enc) == size);
		CHECK(memcmp(enc, data, size) == 0);
		free(enc);
	}
	free(dec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_parse((const char *) data, size);
	check_handle((const char *) data, size);
	check_base64(data, size);
	return 0;
}
