-- phleet 1.0 install script, assembled by the Makefile from src/<concern>.sql.
\echo Use "CREATE EXTENSION phleet CASCADE" to load this file. \quit
