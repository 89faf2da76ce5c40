/*-------------------------------------------------------------------------
 *
 * pseudonym_fuzz.c
 *	  libFuzzer harness for src/pseudonym_format.c.
 *
 * FUZZ_SOURCES: src/pseudonym_format.c
 *
 * Every input is used three ways, each on a buffer of exactly the size
 * given, so AddressSanitizer catches any read or write past it:
 *	- phleet_pseudonym_parse(): on success the text has the documented shape
 *	  (prefix, kind letter, "_", 32 lower-case base32 characters) and
 *	  formatting what it decoded gives the input back (one text per value);
 *	- the first 20 bytes as a pseudonym's bytes: format() then parse() gives
 *	  them back, for every kind;
 *	- kind letters and kinds map to each other both ways.
 *
 *-------------------------------------------------------------------------
 */
#include "pseudonym_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static void
check_parse(const char *s, size_t len)
{
	PhleetKind	kind;
	uint8_t		bytes[PHLEET_PSEUDONYM_BYTES];
	char		out[PHLEET_PSEUDONYM_LEN + 1];
	size_t		i;

	if (!phleet_pseudonym_parse(s, len, &kind, bytes))
		return;
	CHECK(len == PHLEET_PSEUDONYM_LEN);
	CHECK(memcmp(s, "ps1", 3) == 0 && s[4] == '_');
	CHECK(phleet_pseudonym_kind_letter(kind) == s[3]);
	for (i = 5; i < len; i++)
		CHECK((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '2' && s[i] <= '7'));
	phleet_pseudonym_format(kind, bytes, out);
	CHECK(strlen(out) == PHLEET_PSEUDONYM_LEN);
	CHECK(memcmp(out, s, len) == 0);
}

static void
check_roundtrip(const uint8_t *data, size_t size)
{
	uint8_t		bytes[PHLEET_PSEUDONYM_BYTES];
	uint8_t		back[PHLEET_PSEUDONYM_BYTES];
	char		out[PHLEET_PSEUDONYM_LEN + 1];
	int			k;

	if (size < PHLEET_PSEUDONYM_BYTES)
		return;
	memcpy(bytes, data, PHLEET_PSEUDONYM_BYTES);
	for (k = PHLEET_KIND_PHONE; k <= PHLEET_KIND_GENERIC; k++)
	{
		PhleetKind	kind;

		phleet_pseudonym_format((PhleetKind) k, bytes, out);
		CHECK(strlen(out) == PHLEET_PSEUDONYM_LEN);
		CHECK(phleet_pseudonym_parse(out, PHLEET_PSEUDONYM_LEN, &kind, back));
		CHECK(kind == (PhleetKind) k);
		CHECK(memcmp(back, bytes, PHLEET_PSEUDONYM_BYTES) == 0);
		/* any proper prefix is refused */
		CHECK(!phleet_pseudonym_parse(out, size % PHLEET_PSEUDONYM_LEN, &kind, back));
	}
}

static void
check_letters(const uint8_t *data, size_t size)
{
	PhleetKind	kind;

	if (size == 0)
		return;
	kind = phleet_pseudonym_letter_kind((char) data[0]);
	if (kind != PHLEET_KIND_INVALID)
		CHECK(phleet_pseudonym_kind_letter(kind) == (char) data[0]);
	else
		CHECK(strchr("peidg", (char) data[0]) == NULL || data[0] == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *copy = malloc(size ? size : 1);

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	check_parse(copy, size);
	free(copy);
	check_roundtrip(data, size);
	check_letters(data, size);
	return 0;
}
