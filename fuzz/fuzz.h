/*
 * fuzz.h
 *	  What every libFuzzer harness in fuzz/ shares: a check that aborts (so
 *	  libFuzzer keeps the input as a crash) and says which condition failed.
 */
#ifndef PHLEET_FUZZ_H
#define PHLEET_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); \
			abort(); \
		} \
	} while (0)

#endif							/* PHLEET_FUZZ_H */
