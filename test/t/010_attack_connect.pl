# Attack: forge the controller context, or lift phleet's guards, at
# connection time.
#
# The attacker is an application role (no SUPERUSER, no BYPASSRLS, not the
# table owner) that connects with start-up options (PGOPTIONS='-c ...'), or
# whose role or database carries defaults (ALTER ROLE/DATABASE ... SET) that
# a superuser set by mistake or that were stored while phleet was not
# loaded.  None of it may give it a context or turn phleet.internal on:
# start-up options for PGC_SUSET settings are refused to non-superusers, the
# check hook of phleet.controller refuses any value not installed by
# phleet.enter()/enter_token() (superusers included), and the check hook of
# phleet.internal refuses "on" from anything but a superuser's SET clause.
# Also: a context entered for the session ends with the connection, and
# DISCARD ALL leaves a bound login role bound.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('attack_connect');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'phleet'");
$node->start;

$node->safe_psql(
	'postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION phleet CASCADE;
SELECT phleet.controller_create('a'), phleet.controller_create('b');
CREATE ROLE owner NOLOGIN;
CREATE ROLE app LOGIN;                          -- unbound, no gateway
CREATE ROLE app_a LOGIN;                        -- bound to a
CREATE ROLE b_role NOLOGIN;                     -- bound to b
CREATE ROLE pool LOGIN IN ROLE phleet_gateway;  -- a trusted pool
SELECT phleet.bind_role('app_a', 'a'), phleet.bind_role('b_role', 'b');
GRANT b_role TO app_a;
CREATE TABLE leads (id int PRIMARY KEY, phone text);
ALTER TABLE leads OWNER TO owner;
SELECT phleet.govern('leads');
GRANT ALL ON leads TO app, app_a, b_role, pool;
BEGIN;
SELECT phleet.enter('a');
INSERT INTO leads VALUES (1, 'a1'), (2, 'a2');
SELECT phleet.enter('b');
INSERT INTO leads VALUES (3, 'b1'), (4, 'b2');
COMMIT;
CREATE VIEW super_view AS SELECT * FROM leads;  -- owned by the superuser
GRANT SELECT ON super_view TO app, app_a;
});

my $seen =
  q{SELECT coalesce(phleet.current_controller(), '-') || ':' || count(*) || ':'
	|| count(*) FILTER (WHERE controller = 'b') FROM leads};

# Run $sql as $user, with PGOPTIONS set to $options; returns (ret, out, err).
sub as_user
{
	my ($user, $sql, $options) = @_;
	local $ENV{PGOPTIONS} = $options // '';
	my ($ret, $out, $err) =
	  $node->psql('postgres', $sql, extra_params => [ '-U', $user ]);
	return ($ret, $out, $err);
}

my ($ret, $out, $err);

# -- 1. PGOPTIONS on connect --------------------------------------------------
for my $user (qw(app app_a pool))
{
	($ret, $out, $err) = as_user($user, $seen, '-c phleet.controller=b');
	isnt($ret, 0, "PGOPTIONS phleet.controller=b: $user cannot connect");
	like($err, qr/permission denied to set parameter "phleet.controller"/,
		"PGOPTIONS phleet.controller=b: $user refused for lack of privilege");
}
($ret, $out, $err) = as_user('postgres', $seen, '-c phleet.controller=b');
isnt($ret, 0, 'PGOPTIONS phleet.controller=b: even a superuser cannot connect');
like($err,
	qr/parameter "phleet.controller" can only be set by phleet.enter\(\) or phleet.enter_token\(\)/,
	'PGOPTIONS phleet.controller=b: the check hook refuses it');

($ret, $out, $err) = as_user('app', 'SHOW phleet.internal', '-c phleet.internal=on');
isnt($ret, 0, 'PGOPTIONS phleet.internal=on refused');
like($err, qr/permission denied to set parameter "phleet.internal"/,
	'PGOPTIONS phleet.internal=on: lack of privilege');

($ret, $out, $err) =
  as_user('app', $seen, '-c session_replication_role=replica');
isnt($ret, 0, 'PGOPTIONS session_replication_role=replica refused');

($ret, $out, $err) = as_user('app', 'SELECT count(*) FROM leads', '-c row_security=off');
isnt($ret, 0, 'PGOPTIONS row_security=off: reading a governed table fails');
like($err, qr/query would be affected by row-level security policy/,
	'PGOPTIONS row_security=off: instead of showing every row');

($ret, $out, $err) = as_user('app', $seen, '-c role=b_role');
isnt($ret, 0, 'PGOPTIONS role=b_role: a non-member cannot connect');
($ret, $out, $err) = as_user('app_a', "SELECT current_user, session_user; $seen", '-c role=b_role');
is($ret, 0, 'PGOPTIONS role=b_role: a member bound to a connects');
is($out, "b_role|app_a\na:2:0",
	'PGOPTIONS role=b_role: the context is the login role\'s (a), not b');

($ret, $out, $err) = as_user('app', $seen, '-c session_authorization=app_a');
isnt($ret, 0, 'PGOPTIONS session_authorization refused');

# -- 2. ALTER ROLE / ALTER DATABASE ... SET ------------------------------------
for my $sql (
	q{ALTER ROLE app SET phleet.controller = 'b'},
	q{ALTER ROLE app IN DATABASE postgres SET phleet.controller = 'b'},
	q{ALTER DATABASE postgres SET phleet.controller = 'b'},
	q{ALTER ROLE ALL SET phleet.controller = 'b'})
{
	($ret, $out, $err) = as_user('postgres', $sql);
	isnt($ret, 0, "superuser: $sql refused");
	like($err, qr/can only be set by phleet.enter\(\)/, "superuser: $sql: check hook");
}
($ret, $out, $err) = as_user('app', q{ALTER ROLE app SET phleet.controller = 'b'});
like($err, qr/permission denied to set parameter "phleet.controller"/,
	'the app role cannot ALTER ROLE itself SET phleet.controller');
($ret, $out, $err) = as_user('app', q{ALTER ROLE app SET phleet.internal = on});
like($err, qr/permission denied to set parameter "phleet.internal"/,
	'the app role cannot ALTER ROLE itself SET phleet.internal');

# A superuser's ALTER ROLE ... SET phleet.internal = on is stored (the
# superuser could set it), but never takes effect in the app's sessions:
# it would exempt them from the view and TRUNCATE guards.
$node->safe_psql('postgres', q{ALTER ROLE app SET phleet.internal = on;
	ALTER DATABASE postgres SET phleet.internal = on;});
($ret, $out, $err) = as_user('app', 'SHOW phleet.internal');
is($out, 'off', 'role/database default phleet.internal = on has no effect');
like($err, qr/WARNING:  parameter "phleet.internal" can only be set by phleet's own functions/,
	'the ignored default is reported at login');
($ret, $out, $err) = as_user('app', 'SELECT count(*) FROM super_view');
like($err, qr/permission denied to bypass row-level security of governed table "leads"/,
	'the superuser-owned view stays refused');
($ret, $out, $err) = as_user('app', 'TRUNCATE leads');
like($err, qr/permission denied to truncate governed table "leads"/,
	'TRUNCATE stays refused');
$node->safe_psql('postgres', q{ALTER ROLE app RESET ALL; ALTER DATABASE postgres RESET ALL;});

# Defaults stored while phleet was not preloaded (the names were mere
# placeholders then) are refused by the check hook once it is.
$node->append_conf('postgresql.conf', "shared_preload_libraries = ''");
$node->restart;
$node->safe_psql(
	'postgres', q{
ALTER ROLE app SET phleet.controller = 'b';
ALTER ROLE app_a SET phleet.controller = 'b';
ALTER ROLE pool SET phleet.controller = 'b';
ALTER DATABASE postgres SET phleet.controller = 'b';
ALTER ROLE app SET phleet.internal = on;
});
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'phleet'");
$node->restart;
for my $case ([ 'app', '-:0:0' ], [ 'pool', '-:0:0' ], [ 'app_a', 'a:2:0' ])
{
	my ($user, $expect) = @$case;
	($ret, $out, $err) = as_user($user, $seen);
	is($ret, 0, "stored phleet.controller = b: $user still connects");
	is($out, $expect, "stored phleet.controller = b: $user does not act for b");
	like($err, qr/WARNING:  parameter "phleet.controller" can only be set by phleet.enter\(\)/,
		"stored phleet.controller = b: $user is warned at login");
}
($ret, $out, $err) = as_user('app', 'SHOW phleet.internal');
is($out, 'off', 'stored phleet.internal = on: off');
$node->safe_psql(
	'postgres', q{
ALTER ROLE app RESET ALL; ALTER ROLE app_a RESET ALL; ALTER ROLE pool RESET ALL;
ALTER DATABASE postgres RESET ALL;
});

# -- 3. Reconnects and DISCARD ALL ---------------------------------------------
($ret, $out, $err) =
  as_user('pool', qq{SELECT phleet.enter('b', for_session => true); $seen});
is($out, "b\nb:2:2", 'a pool session enters b for the session');
($ret, $out, $err) = as_user('pool', $seen);
is($out, '-:0:0', 'the next connection of the same role starts outside any context');
($ret, $out, $err) = as_user('app_a', "DISCARD ALL; $seen; RESET ALL; $seen");
is($out, "a:2:0\na:2:0", 'DISCARD ALL and RESET ALL leave a bound login role bound');
($ret, $out, $err) =
  as_user('pool', qq{SELECT phleet.enter('b', for_session => true); DISCARD ALL; $seen});
is($out, "b\n-:0:0", 'DISCARD ALL ends a session context');

# -- 4. A token sent as a literal is not left in pg_stat_activity -------------
# pg_stat_activity.query is readable by every session of the SAME role: behind
# a pool that shares one login role, a compromised client could otherwise read
# a sibling's token and replay it until it expires.  enter_token() rewrites its
# own activity text to phleet1.<redacted>.  (Statement logs still have what the
# client sent: pass tokens as bind parameters, keep lifetimes short.)
my $tok_a = $node->safe_psql('postgres', q{SELECT phleet.mint_token('a', '5 minutes')});
my $victim = $node->background_psql('postgres', extra_params => [ '-U', 'app' ]);
$victim->query_safe('BEGIN');
$victim->query_safe(qq{SELECT phleet.enter_token('$tok_a')});
my $steal = q{(SELECT substring(query from 'phleet1[.][^'']+') FROM pg_stat_activity
	WHERE usename = 'app' AND pid <> pg_backend_pid() AND query LIKE '%enter_token%')};
($ret, $out, $err) = as_user('pool', "SELECT coalesce($steal, 'hidden')");
is($out, 'hidden', 'another role cannot read the token from pg_stat_activity');
($ret, $out, $err) = as_user('app', "SELECT $steal");
is($out, 'phleet1.<redacted>', 'the same role reads only a redacted token');
($ret, $out, $err) =
  as_user('app', "BEGIN; SELECT phleet.enter_token($steal) IS NOT NULL; $seen; COMMIT");
like($err, qr/malformed controller token/, 'and cannot replay it');
$victim->query_safe('COMMIT');
$victim->quit;

# -- 5. A copy of the database does not take the original's tokens ---------
# CREATE DATABASE ... TEMPLATE copies phleet.token_secret with the rest: the
# secret remembers its database, and a copy needs a secret of its own.
$node->safe_psql('postgres', q{
CREATE DATABASE tok_src;
});
$node->safe_psql('tok_src', q{
SET client_min_messages = warning;
CREATE EXTENSION phleet CASCADE;
SELECT phleet.controller_create('cb');
});
my $tok_cb = $node->safe_psql('tok_src', q{SELECT phleet.mint_token('cb', '5 minutes')});
$node->safe_psql('postgres', 'CREATE DATABASE tok_copy TEMPLATE tok_src');
is($node->safe_psql('tok_src', "BEGIN; SELECT phleet.enter_token('$tok_cb'); COMMIT"),
	'cb', 'the token works in its own database');
($ret, $out, $err) = $node->psql('tok_copy', "BEGIN; SELECT phleet.enter_token('$tok_cb'); COMMIT");
like($err, qr/phleet's token secret was made for another database/,
	'a copy of the database refuses the original\'s tokens');
like($err, qr/HINT:  A member of phleet_admin can create this database's own/, 'with a hint');
is($node->safe_psql('tok_copy',
		q{SELECT finding FROM phleet.check() WHERE object = 'table phleet.token_secret'}),
	'the token secret was made for another database (this one is a copy): phleet.mint_token() and phleet.enter_token() fail',
	'check() reports it');
$node->safe_psql('tok_copy', 'SELECT phleet.set_token_secret()');
my $tok_copy = $node->safe_psql('tok_copy', q{SELECT phleet.mint_token('cb', '5 minutes')});
is($node->safe_psql('tok_copy', "BEGIN; SELECT phleet.enter_token('$tok_copy'); COMMIT"),
	'cb', 'a secret of its own works');
($ret, $out, $err) = $node->psql('tok_copy', "BEGIN; SELECT phleet.enter_token('$tok_cb'); COMMIT");
like($err, qr/controller token signature does not match/, 'and the original\'s tokens stay refused');

$node->stop;
done_testing();
