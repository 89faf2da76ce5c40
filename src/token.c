/*-------------------------------------------------------------------------
 *
 * token.c
 *	  Signed context tokens: phleet.mint_token, phleet.enter_token and
 *	  phleet.set_token_secret.
 *
 * A token (format in token_format.h) lets an application that must not pick
 * its own tenant enter the one an outside authority signed for it.  The MAC
 * is HMAC-SHA256 under the installation secret kept in phleet.token_secret,
 * which only the extension owner can read; this file reads it directly, not
 * through SQL, so no caller needs a privilege on it.
 *
 * Checks run in a fixed order and each failure has its own message:
 * malformed, truncated, forged (MAC mismatch, compared in constant time),
 * expired, then the caller's binding and the controller's existence.  A
 * failure raises before the context is touched.
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"

#include "access/genam.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/hmac.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(phleet_enter_token);
PG_FUNCTION_INFO_V1(phleet_mint_token);
PG_FUNCTION_INFO_V1(phleet_set_token_secret);

#define Anum_token_secret_secret	2
#define Anum_token_secret_datid		4
#define TOKEN_SECRET_MINLEN			32

static bytea *token_secret_read(void);
static void token_mac(bytea *secret, const char *msg, size_t len, uint8 *mac);
static void token_redact_activity(const char *token, size_t len);
static const char *token_malformed_detail(PhleetTokenStatus status);

/*
 * The installation secret, or an error with a hint when there is none.
 */
static bytea *
token_secret_read(void)
{
	Oid			relid = phleet_relid("token_secret", false);
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	bytea	   *secret = NULL;
	Oid			datid = InvalidOid;

	rel = table_open(relid, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_token_secret_secret,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			secret = DatumGetByteaPCopy(d);
		d = heap_getattr(tup, Anum_token_secret_datid, RelationGetDescr(rel), &isnull);
		if (!isnull)
			datid = DatumGetObjectId(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (secret == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("phleet has no token secret"),
				 errdetail("Context tokens are signed and verified with an installation secret, which is not dumped with the database."),
				 errhint("A member of phleet_admin can create one with SELECT phleet.set_token_secret();")));
	if (datid != MyDatabaseId)
	{
		explicit_bzero(VARDATA(secret), VARSIZE(secret) - VARHDRSZ);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("phleet's token secret was made for another database"),
				 errdetail("This database was copied from another one (CREATE DATABASE ... TEMPLATE) with its secret: tokens minted for that database must not act here."),
				 errhint("A member of phleet_admin can create this database's own with SELECT phleet.set_token_secret();")));
	}
	return secret;
}

/*
 * HMAC-SHA256 of msg[0..len) under secret, into mac (32 bytes).
 */
static void
token_mac(bytea *secret, const char *msg, size_t len, uint8 *mac)
{
	pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);

	if (ctx == NULL ||
		pg_hmac_init(ctx, (uint8 *) VARDATA_ANY(secret), VARSIZE_ANY_EXHDR(secret)) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) msg, len) < 0 ||
		pg_hmac_final(ctx, mac, PHLEET_MAC_LEN) < 0)
	{
		const char *why = ctx ? pg_hmac_error(ctx) : "out of memory";

		pg_hmac_free(ctx);
		elog(ERROR, "could not compute HMAC-SHA256: %s", why);
	}
	pg_hmac_free(ctx);
}

/*
 * The errdetail of a malformed token: which field is wrong, so that an
 * authority minting tokens outside the database can fix its encoder.
 */
static const char *
token_malformed_detail(PhleetTokenStatus status)
{
	switch (status)
	{
		case PHLEET_TOKEN_BAD_VERSION:
			return _("Its first field is not \"phleet1\".");
		case PHLEET_TOKEN_BAD_HANDLE:
			return _("Its second field is not a controller handle (1 to 63 characters of a-z, 0-9, \"_\" and \"-\").");
		case PHLEET_TOKEN_BAD_EXPIRY:
			return _("Its third field is not an expiry time (1 to 12 decimal digits, seconds since 1970-01-01 UTC).");
		case PHLEET_TOKEN_BAD_SIGNATURE:
			return _("Its signature is not the 43-character unpadded base64url encoding of 32 bytes.");
		default:
			return _("A token has the form phleet1.<handle>.<expiry>.<signature>.");
	}
}

/*
 * Hide a token sent as a literal from pg_stat_activity: replace its text in
 * the reported query with "phleet1.<redacted>".  This only shortens the
 * exposure: PostgreSQL reports the statement's text when it starts, so until
 * this call sessions of the same role can read the token there (and
 * statement logs have it already).  Pass tokens as bind parameters to keep
 * them out of both.
 */
static void
token_redact_activity(const char *token, size_t len)
{
	const char *query = debug_query_string;
	const char *at;
	StringInfoData buf;

	if (query == NULL || len == 0 || !pgstat_track_activities)
		return;
	/*
	 * Only what may be a token: any other text (current_query() itself)
	 * would let a caller hide what it runs from pg_stat_activity.
	 */
	if (len > PHLEET_TOKEN_MAXLEN || len < strlen(PHLEET_TOKEN_VERSION ".") ||
		strncmp(token, PHLEET_TOKEN_VERSION ".", strlen(PHLEET_TOKEN_VERSION ".")) != 0)
		return;
	at = strstr(query, pnstrdup(token, len));
	if (at == NULL)
		return;
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, query, at - query);
	appendStringInfoString(&buf, PHLEET_TOKEN_VERSION ".<redacted>");
	appendStringInfoString(&buf, at + len);
	pgstat_report_activity(STATE_RUNNING, buf.data);
	pfree(buf.data);
}

/*
 * phleet.enter_token(token text) RETURNS text
 *
 * Callable by any role: the signature is the authority.  The context lasts
 * until the end of the transaction.
 */
Datum
phleet_enter_token(PG_FUNCTION_ARGS)
{
	text	   *t;
	const char *s;
	size_t		len;
	PhleetToken tok;
	PhleetTokenStatus status;
	uint8		mac[PHLEET_MAC_LEN];
	bytea	   *secret;
	const char *bound;
	pg_time_t	now;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("controller token must not be null")));
	t = PG_GETARG_TEXT_PP(0);
	s = VARDATA_ANY(t);
	len = VARSIZE_ANY_EXHDR(t);

	/*
	 * Redact first: a call that fails below (a cursor is open, the session
	 * is bound elsewhere, a truncated signature) must not leave the token in
	 * pg_stat_activity for the rest of the transaction.
	 */
	token_redact_activity(s, len);

	status = phleet_token_parse(s, len, &tok);
	switch (status)
	{
		case PHLEET_TOKEN_OK:
			break;
		case PHLEET_TOKEN_TRUNCATED:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("controller token is truncated"),
					 errdetail("Its signature has fewer than %d characters.", PHLEET_MAC_B64_LEN)));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("malformed controller token"),
					 errdetail("%s", token_malformed_detail(status)),
					 errhint("Tokens are minted by phleet.mint_token() or by an authority holding the token secret.")));
	}

	secret = token_secret_read();
	token_mac(secret, s, tok.signed_len, mac);
	explicit_bzero(VARDATA_ANY(secret), VARSIZE_ANY_EXHDR(secret));
	if (timingsafe_bcmp(mac, tok.mac, PHLEET_MAC_LEN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("controller token signature does not match"),
				 errdetail("The token was not signed with this installation's token secret, or was altered.")));

	now = timestamptz_to_time_t(GetCurrentTimestamp());
	if (tok.expiry <= (int64) now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("controller token has expired"),
				 errdetail("It expired at %s.",
						   timestamptz_to_str(time_t_to_timestamptz((pg_time_t) tok.expiry)))));

	bound = phleet_session_binding();
	if (bound != NULL && strcmp(bound, tok.handle) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to enter controller \"%s\"", tok.handle),
				 errdetail("Login role \"%s\" is bound to controller \"%s\" and can act only for it.",
						   GetUserNameFromId(GetSessionUserId(), false), bound)));

	if (!phleet_controller_exists(tok.handle))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("controller \"%s\" does not exist", tok.handle)));

	phleet_warn_outside_block("Call phleet.enter_token() after BEGIN: its context lasts until the end of the transaction.");
	phleet_context_set(tok.handle, false);
	PG_RETURN_TEXT_P(cstring_to_text(tok.handle));
}

/*
 * phleet.mint_token(controller text, ttl interval) RETURNS text
 *
 * EXECUTE is granted to phleet_admin only.
 */
Datum
phleet_mint_token(PG_FUNCTION_ARGS)
{
	char	   *handle;
	Interval   *ttl;
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz expires;
	int64		expiry;
	bytea	   *secret;
	StringInfoData buf;
	uint8		mac[PHLEET_MAC_LEN];
	char		sig[PHLEET_MAC_B64_LEN + 1];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("controller and token lifetime must not be null")));
	handle = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ttl = PG_GETARG_INTERVAL_P(1);
	phleet_check_handle(handle);
	if (!phleet_controller_exists(handle))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("controller \"%s\" does not exist", handle)));

	expires = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													  TimestampTzGetDatum(now),
													  IntervalPGetDatum(ttl)));
	if (expires <= now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token lifetime must be positive"),
				 errhint("Pass a lifetime such as interval '5 minutes'.")));
	/* round up to whole seconds so a token never expires early */
	expiry = (int64) timestamptz_to_time_t(expires);
	if (time_t_to_timestamptz((pg_time_t) expiry) < expires)
		expiry++;
	if (expiry >= INT64CONST(1000000000000))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token lifetime is too long")));

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s.%s." INT64_FORMAT, PHLEET_TOKEN_VERSION, handle, expiry);
	secret = token_secret_read();
	token_mac(secret, buf.data, buf.len, mac);
	explicit_bzero(VARDATA_ANY(secret), VARSIZE_ANY_EXHDR(secret));
	phleet_base64url_encode(mac, PHLEET_MAC_LEN, sig);
	appendStringInfo(&buf, ".%s", sig);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}

/*
 * phleet.set_token_secret(secret bytea DEFAULT NULL) RETURNS bytea
 *
 * Installs the token secret (random when NULL) and returns it so that an
 * outside authority can be given it.  SECURITY DEFINER, EXECUTE granted to
 * phleet_admin only.
 */
Datum
phleet_set_token_secret(PG_FUNCTION_ARGS)
{
	bytea	   *secret;
	Oid			argtypes[2] = {BYTEAOID, OIDOID};
	Datum		values[2];

	if (PG_ARGISNULL(0))
	{
		secret = (bytea *) palloc(VARHDRSZ + TOKEN_SECRET_MINLEN);
		SET_VARSIZE(secret, VARHDRSZ + TOKEN_SECRET_MINLEN);
		if (!pg_strong_random(VARDATA(secret), TOKEN_SECRET_MINLEN))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random token secret")));
	}
	else
	{
		secret = PG_GETARG_BYTEA_PP(0);
		if (VARSIZE_ANY_EXHDR(secret) < TOKEN_SECRET_MINLEN)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("token secret is too short"),
					 errdetail("It has %d bytes; at least %d are required.",
							   (int) VARSIZE_ANY_EXHDR(secret), TOKEN_SECRET_MINLEN),
					 errhint("Pass NULL to have phleet generate a random secret.")));
	}

	values[0] = PointerGetDatum(secret);
	values[1] = ObjectIdGetDatum(MyDatabaseId);
	SPI_connect();
	if (SPI_execute("DELETE FROM phleet.token_secret", false, 0) != SPI_OK_DELETE ||
		SPI_execute_with_args("INSERT INTO phleet.token_secret (id, secret, datid) VALUES (1, $1, $2)",
							  2, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store the token secret");
	SPI_finish();
	PG_RETURN_BYTEA_P(secret);
}
