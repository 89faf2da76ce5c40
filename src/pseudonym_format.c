/*-------------------------------------------------------------------------
 *
 * pseudonym_format.c
 *	  Text form of pseudonyms (see pseudonym_format.h).
 *
 * Pure functions over byte strings: no allocation, no backend calls, no
 * global state.  phleet_pseudonym_parse() reads at most len bytes and writes
 * only PHLEET_PSEUDONYM_BYTES bytes, which is what fuzz/pseudonym_fuzz.c
 * checks, with parse(format(x)) == x.
 *
 *-------------------------------------------------------------------------
 */
#include "pseudonym_format.h"

#include <string.h>

static const char b32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

/* Value of a lower-case base32 character, or -1. */
static int
b32_value(char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

char
phleet_pseudonym_kind_letter(PhleetKind kind)
{
	switch (kind)
	{
		case PHLEET_KIND_PHONE:
			return 'p';
		case PHLEET_KIND_EMAIL:
			return 'e';
		case PHLEET_KIND_IP:
			return 'i';
		case PHLEET_KIND_DEVICE:
			return 'd';
		case PHLEET_KIND_GENERIC:
			return 'g';
		default:
			return '\0';
	}
}

PhleetKind
phleet_pseudonym_letter_kind(char letter)
{
	switch (letter)
	{
		case 'p':
			return PHLEET_KIND_PHONE;
		case 'e':
			return PHLEET_KIND_EMAIL;
		case 'i':
			return PHLEET_KIND_IP;
		case 'd':
			return PHLEET_KIND_DEVICE;
		case 'g':
			return PHLEET_KIND_GENERIC;
		default:
			return PHLEET_KIND_INVALID;
	}
}

/*
 * Text form of a pseudonym of kind (a valid kind) whose 20 bytes are bytes.
 */
void
phleet_pseudonym_format(PhleetKind kind, const uint8_t *bytes, char *out)
{
	size_t		i;
	size_t		o = 5;

	memcpy(out, PHLEET_PSEUDONYM_VERSION, 3);
	out[3] = phleet_pseudonym_kind_letter(kind);
	out[4] = '_';
	/* 20 bytes are four groups of 5 bytes, each 8 base32 characters */
	for (i = 0; i < PHLEET_PSEUDONYM_BYTES; i += 5)
	{
		uint64_t	v = ((uint64_t) bytes[i] << 32) | ((uint64_t) bytes[i + 1] << 24) |
		((uint64_t) bytes[i + 2] << 16) | ((uint64_t) bytes[i + 3] << 8) |
		(uint64_t) bytes[i + 4];

		/* written out: the compiler keeps v in a register, no loop */
		out[o + 0] = b32_alphabet[(v >> 35) & 31];
		out[o + 1] = b32_alphabet[(v >> 30) & 31];
		out[o + 2] = b32_alphabet[(v >> 25) & 31];
		out[o + 3] = b32_alphabet[(v >> 20) & 31];
		out[o + 4] = b32_alphabet[(v >> 15) & 31];
		out[o + 5] = b32_alphabet[(v >> 10) & 31];
		out[o + 6] = b32_alphabet[(v >> 5) & 31];
		out[o + 7] = b32_alphabet[v & 31];
		o += 8;
	}
	out[o] = '\0';
}

bool
phleet_pseudonym_parse(const char *s, size_t len, PhleetKind *kind, uint8_t *bytes)
{
	size_t		i;
	size_t		o = 0;

	if (s == NULL || len != PHLEET_PSEUDONYM_LEN ||
		memcmp(s, PHLEET_PSEUDONYM_VERSION, 3) != 0 || s[4] != '_')
		return false;
	*kind = phleet_pseudonym_letter_kind(s[3]);
	if (*kind == PHLEET_KIND_INVALID)
		return false;
	for (i = 5; i < len; i += 8)
	{
		uint64_t	v = 0;
		size_t		j;

		for (j = 0; j < 8; j++)
		{
			int			d = b32_value(s[i + j]);

			if (d < 0)
				return false;
			v = (v << 5) | (uint64_t) d;
		}
		bytes[o++] = (uint8_t) (v >> 32);
		bytes[o++] = (uint8_t) (v >> 24);
		bytes[o++] = (uint8_t) (v >> 16);
		bytes[o++] = (uint8_t) (v >> 8);
		bytes[o++] = (uint8_t) v;
	}
	return true;
}
