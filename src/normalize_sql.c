/*-------------------------------------------------------------------------
 *
 * normalize_sql.c
 *	  SQL side of the normalizers: phleet.normalize, phleet.generalize_ip
 *	  and the settings phleet.default_country,
 *	  phleet.generalize_ipv4_prefix and phleet.generalize_ipv6_prefix.
 *
 * The rules live in normalize.c, which is pure C; this file only converts
 * between SQL values and byte strings and turns a refusal into an error.
 * Errors name the kind and carry normalize.c's reason as detail, but never
 * the value itself: identifiers must not reach the server log.
 *
 * Both functions read settings, so they are STABLE, not IMMUTABLE; settings
 * are copied to parallel workers, so they are PARALLEL SAFE.
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"

#include <sys/socket.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inet.h"

PG_FUNCTION_INFO_V1(phleet_normalize);
PG_FUNCTION_INFO_V1(phleet_generalize_ip);

#define DEFAULT_COUNTRY_GUC		"phleet.default_country"

static char *default_country_setting = NULL;
static int	generalize_ipv4_prefix = 24;
static int	generalize_ipv6_prefix = 48;

static bool default_country_check_hook(char **newval, void **extra,
									   GucSource source);

/*
 * Define the settings; called from _PG_init.
 */
void
NormalizeInit(void)
{
	DefineCustomStringVariable(DEFAULT_COUNTRY_GUC,
							   "Country of phone numbers written without an international prefix.",
							   "An ISO 3166 alpha-2 code such as US, GB or DE.",
							   &default_country_setting,
							   "US",
							   PGC_USERSET,
							   0,
							   default_country_check_hook,
							   NULL,
							   NULL);

	DefineCustomIntVariable("phleet.generalize_ipv4_prefix",
							"Prefix length phleet.generalize_ip() keeps of an IPv4 address.",
							NULL,
							&generalize_ipv4_prefix,
							24, 0, 32,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("phleet.generalize_ipv6_prefix",
							"Prefix length phleet.generalize_ip() keeps of an IPv6 address.",
							NULL,
							&generalize_ipv6_prefix,
							48, 0, 128,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
}

/*
 * Accept a known ISO 3166 alpha-2 code in either case; store it upper case.
 */
static bool
default_country_check_hook(char **newval, void **extra, GucSource source)
{
	char	   *v = *newval;

	if (v != NULL && strlen(v) == 2)
	{
		char		upper[3];

		upper[0] = pg_ascii_toupper((unsigned char) v[0]);
		upper[1] = pg_ascii_toupper((unsigned char) v[1]);
		upper[2] = '\0';
		if (phleet_country_calling_code(upper) != 0)
		{
			memcpy(v, upper, 2);
			return true;
		}
	}
	GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
	GUC_check_errdetail("The value must be an ISO 3166 alpha-2 country code with a telephone country calling code.");
	GUC_check_errhint("Use a code such as US, GB or DE.");
	return false;
}

/*
 * Country for national phone numbers: the setting, or US before it is
 * defined.
 */
const char *
phleet_default_country(void)
{
	return default_country_setting ? default_country_setting : "US";
}

/*
 * Canonical form of value[0..len) for kind, written into out (room for
 * PHLEET_NORMALIZED_MAXLEN + 1 bytes), or an error naming the kind with a
 * reason that never repeats the value.
 */
void
phleet_normalize_checked(PhleetKind kind, const char *value, size_t len,
						 char *out)
{
	const char *why = NULL;
	const char *what;

	if (phleet_normalize_value(kind, value, len, phleet_default_country(),
							   out, PHLEET_NORMALIZED_MAXLEN + 1, &why))
		return;

	switch (kind)
	{
		case PHLEET_KIND_PHONE:
			what = "phone number";
			break;
		case PHLEET_KIND_EMAIL:
			what = "email address";
			break;
		case PHLEET_KIND_IP:
			what = "IP address";
			break;
		case PHLEET_KIND_DEVICE:
			what = "device id";
			break;
		case PHLEET_KIND_GENERIC:
			what = "generic identifier";
			break;
		default:
			elog(ERROR, "unexpected identifier kind %d", (int) kind);
			what = NULL;		/* keep compiler quiet */
	}

	if (kind == PHLEET_KIND_PHONE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s", what),
				 errdetail_internal("%s", why ? why : "The value was refused."),
				 errhint("Write the number with a leading \"+\" and its country calling code, or set %s to the country of national numbers (now %s).",
						 DEFAULT_COUNTRY_GUC, phleet_default_country())));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid %s", what),
			 errdetail_internal("%s", why ? why : "The value was refused.")));
}

/*
 * Identifier kind named by a text value, or an error listing the kinds.
 */
PhleetKind
phleet_kind_checked(const char *name)
{
	PhleetKind	kind = phleet_kind_from_name(name);

	if (kind == PHLEET_KIND_INVALID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown identifier kind \"%s\"", name),
				 errhint("The kinds are phone, email, ip, device and generic.")));
	return kind;
}

/*
 * phleet.normalize(value text, kind text) RETURNS text
 *
 * The canonical text of value as an identifier of kind.
 */
Datum
phleet_normalize(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);
	char	   *kindname = text_to_cstring(PG_GETARG_TEXT_PP(1));
	PhleetKind	kind = phleet_kind_checked(kindname);
	char		out[PHLEET_NORMALIZED_MAXLEN + 1];

	phleet_normalize_checked(kind, VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), out);
	PG_RETURN_TEXT_P(cstring_to_text(out));
}

/*
 * phleet.generalize_ip(ip inet) RETURNS inet
 *
 * The network of ip with the configured prefix length (never longer than
 * ip's own), host bits zeroed.  An IPv4-mapped IPv6 address is generalized
 * as the IPv4 address it carries, as phleet.normalize(.., 'ip') does.
 */
Datum
phleet_generalize_ip(PG_FUNCTION_ARGS)
{
	inet	   *ip = PG_GETARG_INET_PP(0);
	inet	   *res = (inet *) palloc0(sizeof(inet));
	int			family = ip_family(ip);
	int			bits = ip_bits(ip);
	const unsigned char *addr = ip_addr(ip);
	int			maxbits;
	int			prefix;
	int			i;
	static const unsigned char v4mapped[12] =
	{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (family == PGSQL_AF_INET6 && bits >= 96 &&
		memcmp(addr, v4mapped, sizeof(v4mapped)) == 0)
	{
		family = PGSQL_AF_INET;
		bits -= 96;
		addr += 12;
	}
	maxbits = family == PGSQL_AF_INET ? 32 : 128;
	prefix = family == PGSQL_AF_INET ? generalize_ipv4_prefix : generalize_ipv6_prefix;
	if (prefix > bits)
		prefix = bits;

	ip_family(res) = family;
	ip_bits(res) = prefix;
	for (i = 0; i < maxbits / 8; i++)
	{
		int			keep = prefix - i * 8;

		if (keep >= 8)
			ip_addr(res)[i] = addr[i];
		else if (keep > 0)
			ip_addr(res)[i] = addr[i] & (unsigned char) (0xFF << (8 - keep));
		else
			ip_addr(res)[i] = 0;
	}
	SET_INET_VARSIZE(res);
	PG_RETURN_INET_P(res);
}
