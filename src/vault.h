/*-------------------------------------------------------------------------
 *
 * vault.h
 *	  The vault of revealable identifiers, as used by classify.c's trigger.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PHLEET_VAULT_H
#define PHLEET_VAULT_H

#include "keys.h"

extern void VaultInit(void);

/*
 * Before a row of controller with a value in a revealable column is
 * written: hold the controller's vault lock in share mode until the
 * transaction ends, so that the purge's pruning of the controller's
 * unreferenced entries (phleet._vault_lock(), exclusive) either sees the row
 * or runs before it is written.  Writers of other controllers never wait.
 */
extern void phleet_vault_lock(const char *controller);
extern void phleet_vault_lock_exclusive(const char *controller);

/*
 * Queue the encrypted normalized identifier norm[0..len) under pseudonym
 * (whose MAC is mac) for the vault of controller (whose key is k).  It is
 * written before the current statement ends, once per distinct identifier.
 */
extern void phleet_vault_stage(PhleetKey *k, const char *controller,
							   const char *pseudonym, const uint8 *mac,
							   const char *norm, size_t len);

#endif							/* PHLEET_VAULT_H */
