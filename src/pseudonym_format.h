/*-------------------------------------------------------------------------
 *
 * pseudonym_format.h
 *	  Pure text form of pseudonyms.
 *
 * Nothing here calls the backend: pseudonym_format.c builds on its own, so
 * fuzz/pseudonym_fuzz.c links it directly.
 *
 * A pseudonym is 37 characters:
 *
 *		ps1<k>_<32 characters of lower-case base32 (RFC 4648 alphabet)>
 *
 * <k> is the identifier kind: p (phone), e (email), i (ip), d (device),
 * g (generic).  The 32 characters encode 20 bytes: a 16-byte keyed MAC of
 * the normalized identifier, then a 4-byte check that only the owning
 * controller's key can produce.  Every byte string has exactly one text form
 * (upper case is not accepted).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PSEUDONYM_FORMAT_H
#define PSEUDONYM_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "normalize.h"

#define PHLEET_PSEUDONYM_VERSION	"ps1"
#define PHLEET_PSEUDONYM_MAC_LEN	16
#define PHLEET_PSEUDONYM_CHECK_LEN	4
#define PHLEET_PSEUDONYM_BYTES		(PHLEET_PSEUDONYM_MAC_LEN + PHLEET_PSEUDONYM_CHECK_LEN)
#define PHLEET_PSEUDONYM_B32_LEN	32
#define PHLEET_PSEUDONYM_LEN		(3 + 1 + 1 + PHLEET_PSEUDONYM_B32_LEN)

/* Kind letter of a pseudonym ('\0' for PHLEET_KIND_INVALID), and back. */
extern char phleet_pseudonym_kind_letter(PhleetKind kind);
extern PhleetKind phleet_pseudonym_letter_kind(char letter);

/* Write the text form (PHLEET_PSEUDONYM_LEN characters and a NUL) to out. */
extern void phleet_pseudonym_format(PhleetKind kind, const uint8_t *bytes,
									char *out);

/*
 * True when s[0..len) is the text form of a pseudonym; then *kind and bytes
 * (PHLEET_PSEUDONYM_BYTES) hold what it encodes.  Reads at most len bytes.
 */
extern bool phleet_pseudonym_parse(const char *s, size_t len, PhleetKind *kind,
								   uint8_t *bytes);

#endif							/* PSEUDONYM_FORMAT_H */
