/*-------------------------------------------------------------------------
 *
 * normalize_fuzz.c
 *	  libFuzzer harness for src/normalize.c (every kind).
 *
 * FUZZ_SOURCES: src/normalize.c
 *
 * Input layout: byte 0 picks the kind ('p' phone, 'e' email, 'i' ip,
 * 'd' device, 'g' generic, any other byte modulo 5), byte 1 the default
 * country ('A'.. 'Z' index countries[] below, other bytes wrap around), the
 * rest is the value.  The value is passed in place: libFuzzer's buffer is
 * exactly sized, so AddressSanitizer catches any read past len.
 *
 * Checks, each an abort() on violation:
 *	- success: the output is NUL terminated within outsz and has the shape
 *	  of its kind; normalizing it again gives the same output (idempotence);
 *	  device and generic values come back unchanged;
 *	- failure: *why is a non-empty sentence outside the caller's buffers;
 *	- a smaller output buffer either holds the same output or fails.
 *
 *-------------------------------------------------------------------------
 */
#include "normalize.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUTSZ (PHLEET_NORMALIZED_MAXLEN + 1)

/* Countries with every trunk-prefix rule, NANP, no trunk, unknown, NULL. */
static const char *const countries[] = {
	"US", "GB", "CA", "DE", "ES", "FR", "IT", "RU", "KZ", "HU", "MX", "LT",
	"UZ", "JM", "JP", "AU", "MH", "IN", "BR", "VA", "NO", "ID", "KR", "BY",
	"ZZ", NULL
};

#include "fuzz.h"

static void
check_shape(PhleetKind kind, const char *in, size_t len, const char *out)
{
	size_t		n = strlen(out);
	size_t		i;

	CHECK(n > 0 && n <= PHLEET_NORMALIZED_MAXLEN);
	switch (kind)
	{
		case PHLEET_KIND_PHONE:
			CHECK(out[0] == '+' && n >= 2 && n <= 16);
			for (i = 1; i < n; i++)
				CHECK(out[i] >= '0' && out[i] <= '9');
			break;
		case PHLEET_KIND_EMAIL:
			CHECK(n <= 254 && strchr(out, '@') != NULL);
			for (i = 0; i < n; i++)
				CHECK(!(out[i] >= 'A' && out[i] <= 'Z') && out[i] != ' ');
			break;
		case PHLEET_KIND_IP:
			{
				unsigned char a[16];

				CHECK(inet_pton(AF_INET, out, a) == 1 ||
					  inet_pton(AF_INET6, out, a) == 1);
			}
			break;
		case PHLEET_KIND_DEVICE:
		case PHLEET_KIND_GENERIC:
			CHECK(n == len && memcmp(in, out, len) == 0);
			break;
		default:
			CHECK(0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[OUTSZ];
	static char again[OUTSZ];
	PhleetKind	kind;
	const char *country;
	const char *in;
	size_t		len;
	const char *why = NULL;
	bool		ok;

	if (size < 2)
		return 0;
	switch (data[0])
	{
		case 'p':
			kind = PHLEET_KIND_PHONE;
			break;
		case 'e':
			kind = PHLEET_KIND_EMAIL;
			break;
		case 'i':
			kind = PHLEET_KIND_IP;
			break;
		case 'd':
			kind = PHLEET_KIND_DEVICE;
			break;
		case 'g':
			kind = PHLEET_KIND_GENERIC;
			break;
		default:
			kind = (PhleetKind) (data[0] % 5);
	}
	CHECK(phleet_kind_from_name(phleet_kind_name(kind)) == kind);
	country = countries[(uint8_t) (data[1] - 'A') % (sizeof(countries) / sizeof(countries[0]))];
	in = (const char *) data + 2;
	len = size - 2;

	memset(out, 0x7f, sizeof(out));
	ok = phleet_normalize_value(kind, in, len, country, out, sizeof(out), &why);
	if (!ok)
	{
		CHECK(why != NULL && why[0] != '\0' && why[strlen(why) - 1] == '.');
		CHECK(!(why >= in && why < in + len));
		CHECK(!(why >= out && why < out + sizeof(out)));
	}
	else
	{
		size_t		n = strnlen(out, sizeof(out));
		size_t		small;
		char	   *buf;

		CHECK(n < sizeof(out));
		check_shape(kind, in, len, out);

		/* idempotence */
		why = NULL;
		CHECK(phleet_normalize_value(kind, out, n, country, again, sizeof(again), &why));
		CHECK(strcmp(out, again) == 0);

		/* an exactly sized smaller buffer: same output, or a refusal */
		small = (size_t) (data[1] % (n + 2)) + 1;
		buf = malloc(small);
		CHECK(buf != NULL);
		if (phleet_normalize_value(kind, in, len, country, buf, small, &why))
			CHECK(small > n && strcmp(buf, out) == 0);
		else
			CHECK(small <= n && why != NULL);
		free(buf);
	}
	return 0;
}
