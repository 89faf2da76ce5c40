/*-------------------------------------------------------------------------
 *
 * normalize.h
 *	  Canonical forms of end-user identifiers (phones, emails, IPs, device
 *	  ids), as pure C with no backend calls, so fuzz/ can link it alone.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PHLEET_NORMALIZE_H
#define PHLEET_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum PhleetKind
{
	PHLEET_KIND_INVALID = -1,
	PHLEET_KIND_PHONE = 0,
	PHLEET_KIND_EMAIL,
	PHLEET_KIND_IP,
	PHLEET_KIND_DEVICE,
	PHLEET_KIND_GENERIC
} PhleetKind;

/* Longest canonical value produced, not counting the terminating NUL. */
#define PHLEET_NORMALIZED_MAXLEN 1024

/* "phone", "email", "ip", "device", "generic" -> kind; anything else INVALID. */
extern PhleetKind phleet_kind_from_name(const char *name);
extern const char *phleet_kind_name(PhleetKind kind);

/*
 * Country calling code of an ISO 3166 alpha-2 code (two upper-case letters),
 * or 0 when the country is unknown (what phleet.default_country accepts).
 */
extern int	phleet_country_calling_code(const char *alpha2);

/*
 * Write the canonical form of in[0..len) into out (outsz bytes, NUL
 * terminated).  default_country is an ISO 3166 alpha-2 code used for
 * national phone numbers.  Returns true on success; on failure returns false
 * and sets *why to a static, full-sentence reason (no value echoed).
 */
extern bool phleet_normalize_value(PhleetKind kind, const char *in, size_t len,
								   const char *default_country,
								   char *out, size_t outsz, const char **why);

#endif							/* PHLEET_NORMALIZE_H */
