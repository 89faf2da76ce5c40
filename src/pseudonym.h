/*-------------------------------------------------------------------------
 *
 * pseudonym.h
 *	  Computing and checking pseudonyms under a controller's key, for
 *	  pseudonym.c's SQL functions, classify.c's trigger and vault.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PHLEET_PSEUDONYM_H
#define PHLEET_PSEUDONYM_H

#include "keys.h"
#include "pseudonym_format.h"

/*
 * Pseudonym of an already normalized identifier; out gets 38 bytes, mac_out
 * (unless NULL) the PHLEET_PSEUDONYM_MAC_LEN bytes of its MAC.
 */
extern void phleet_pseudonym_compute(PhleetKey *k, PhleetKind kind,
									 const char *norm, size_t len, char *out,
									 uint8 *mac_out);

/* True when s[0..len) is a pseudonym this key made for this kind. */
extern bool phleet_pseudonym_is_ours(PhleetKey *k, PhleetKind kind,
									 const char *s, size_t len);

/* "phone number", "email address", ... */
extern const char *phleet_kind_description(PhleetKind kind);

/* The error for a value that is a pseudonym of another controller or kind. */
extern void phleet_pseudonym_foreign_error(PhleetKind kind, const char *where);

#endif							/* PHLEET_PSEUDONYM_H */
