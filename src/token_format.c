/*-------------------------------------------------------------------------
 *
 * token_format.c
 *	  Controller handles and the text form of context tokens.
 *
 * Pure functions over byte strings: no allocation, no backend calls, no
 * global state.  Every function reads at most len bytes of its input and
 * never writes past the sizes documented in token_format.h, which is what
 * fuzz/token_fuzz.c checks.
 *
 *-------------------------------------------------------------------------
 */
#include "token_format.h"

#include <string.h>

static const char b64url_alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/*
 * True when s[0..len) is a controller handle: 1 to 63 characters of
 * [a-z0-9_-].
 */
bool
phleet_handle_valid(const char *s, size_t len)
{
	size_t		i;

	if (s == NULL || len == 0 || len > PHLEET_HANDLE_MAXLEN)
		return false;
	for (i = 0; i < len; i++)
	{
		char		c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Value of one base64url character, or -1. */
static int
b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Unpadded base64url encoding of src[0..len) into dst, which must have room
 * for (4 * len + 2) / 3 characters plus a terminating NUL.  Returns the
 * number of characters written, not counting the NUL.
 */
size_t
phleet_base64url_encode(const uint8_t *src, size_t len, char *dst)
{
	size_t		i;
	size_t		o = 0;

	for (i = 0; i + 2 < len; i += 3)
	{
		uint32_t	v = ((uint32_t) src[i] << 16) | ((uint32_t) src[i + 1] << 8) | src[i + 2];

		dst[o++] = b64url_alphabet[(v >> 18) & 63];
		dst[o++] = b64url_alphabet[(v >> 12) & 63];
		dst[o++] = b64url_alphabet[(v >> 6) & 63];
		dst[o++] = b64url_alphabet[v & 63];
	}
	if (len - i == 1)
	{
		uint32_t	v = (uint32_t) src[i] << 16;

		dst[o++] = b64url_alphabet[(v >> 18) & 63];
		dst[o++] = b64url_alphabet[(v >> 12) & 63];
	}
	else if (len - i == 2)
	{
		uint32_t	v = ((uint32_t) src[i] << 16) | ((uint32_t) src[i + 1] << 8);

		dst[o++] = b64url_alphabet[(v >> 18) & 63];
		dst[o++] = b64url_alphabet[(v >> 12) & 63];
		dst[o++] = b64url_alphabet[(v >> 6) & 63];
	}
	dst[o] = '\0';
	return o;
}

/*
 * Decode exactly dstlen bytes from the unpadded base64url text src[0..len).
 * Returns false unless len is the canonical length for dstlen bytes, every
 * character is in the alphabet and the unused low bits of the last
 * character are zero (so each byte string has exactly one encoding).
 */
bool
phleet_base64url_decode(const char *src, size_t len, uint8_t *dst, size_t dstlen)
{
	size_t		i;
	size_t		o = 0;
	uint32_t	acc = 0;
	int			bits = 0;

	if (len != (4 * dstlen + 2) / 3)
		return false;
	for (i = 0; i < len; i++)
	{
		int			v = b64url_value(src[i]);

		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			if (o >= dstlen)
				return false;
			dst[o++] = (uint8_t) ((acc >> bits) & 0xFF);
		}
	}
	if (o != dstlen)
		return false;
	/* leftover bits must be zero for a canonical encoding */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return false;
	return true;
}

/*
 * Split and check a token's text.  On PHLEET_TOKEN_OK, *out holds the handle,
 * the expiry, the decoded MAC and the length of the signed prefix; the MAC is
 * not verified here.
 */
PhleetTokenStatus
phleet_token_parse(const char *s, size_t len, PhleetToken *out)
{
	const char *field[4];
	size_t		flen[4];
	size_t		i;
	int			n = 0;
	size_t		start = 0;
	int64_t		expiry = 0;

	memset(out, 0, sizeof(*out));
	if (s == NULL || len == 0 || len > PHLEET_TOKEN_MAXLEN)
		return PHLEET_TOKEN_MALFORMED;

	for (i = 0; i <= len; i++)
	{
		if (i == len || s[i] == '.')
		{
			if (n == 4)
				return PHLEET_TOKEN_MALFORMED;
			field[n] = s + start;
			flen[n] = i - start;
			n++;
			start = i + 1;
		}
	}
	if (n != 4)
		return PHLEET_TOKEN_MALFORMED;

	if (flen[0] != strlen(PHLEET_TOKEN_VERSION) ||
		memcmp(field[0], PHLEET_TOKEN_VERSION, flen[0]) != 0)
		return PHLEET_TOKEN_BAD_VERSION;

	if (!phleet_handle_valid(field[1], flen[1]))
		return PHLEET_TOKEN_BAD_HANDLE;

	if (flen[2] == 0 || flen[2] > PHLEET_EXPIRY_MAXDIGITS)
		return PHLEET_TOKEN_BAD_EXPIRY;
	for (i = 0; i < flen[2]; i++)
	{
		char		c = field[2][i];

		if (c < '0' || c > '9')
			return PHLEET_TOKEN_BAD_EXPIRY;
		expiry = expiry * 10 + (c - '0');
	}

	if (flen[3] < PHLEET_MAC_B64_LEN)
		return PHLEET_TOKEN_TRUNCATED;
	if (!phleet_base64url_decode(field[3], flen[3], out->mac, PHLEET_MAC_LEN))
		return PHLEET_TOKEN_BAD_SIGNATURE;

	memcpy(out->handle, field[1], flen[1]);
	out->handle[flen[1]] = '\0';
	out->expiry = expiry;
	out->signed_len = (size_t) (field[3] - s) - 1;
	return PHLEET_TOKEN_OK;
}
