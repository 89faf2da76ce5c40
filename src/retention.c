/*-------------------------------------------------------------------------
 *
 * retention.c
 *	  The C side of retention (src/retention.sql holds the rest): the
 *	  setting phleet.purge_partitions and the check that phleet.purge() may
 *	  commit.
 *
 * phleet.purge() is a PL/pgSQL procedure that commits after every batch.
 * PostgreSQL allows that only when the CALL is not inside a transaction
 * block, a function or a SECURITY DEFINER or SET-clause procedure; otherwise
 * the first COMMIT fails with the bare "invalid transaction termination".
 * phleet._purge_can_commit() lets the procedure refuse up front, before it
 * has changed anything, with an error that says what to do.
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/guc.h"

PG_FUNCTION_INFO_V1(phleet_purge_can_commit);

/* phleet.purge_partitions: may phleet.purge() drop whole partitions? */
static bool purge_partitions = true;

/*
 * Define the retention settings.
 */
void
RetentionInit(void)
{
	DefineCustomBoolVariable("phleet.purge_partitions",
							 "Lets phleet.purge() drop partitions whose rows are all past retention.",
							 "When off, such partitions are emptied row by row like any other table.",
							 &purge_partitions,
							 true,
							 PGC_USERSET,
							 0,
							 NULL,
							 NULL,
							 NULL);
}

/*
 * phleet._purge_can_commit() RETURNS void
 *
 * Raises unless the calling PL/pgSQL procedure runs in a context where
 * COMMIT is allowed (a non-atomic SPI connection).
 */
Datum
phleet_purge_can_commit(PG_FUNCTION_ARGS)
{
	if (!SPI_inside_nonatomic_context())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("phleet.purge() cannot run inside a transaction block or a function"),
				 errdetail("The purge commits after every batch so that no batch holds its locks for long."),
				 errhint("Run CALL phleet.purge() as a statement of its own, outside BEGIN ... COMMIT.")));
	PG_RETURN_VOID();
}
