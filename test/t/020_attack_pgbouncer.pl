# Attack: a transaction-mode pooler hands one server connection to clients of
# different controllers, one transaction after another, with no reset in
# between (pgbouncer runs no server_reset_query in transaction mode).
#
# pgbouncer (Debian package) runs with pool_size = 1 in front of the node, so
# every client of a pool login role shares ONE server backend (asserted by
# its pid).  Clients of controllers A and B alternate transactions on it:
#  - as a plain pool role (no phleet_gateway, unbound) entering with their
#    own tokens (phleet.enter_token), and
#  - as a phleet_gateway pool role whose middleware calls phleet.enter().
# Each must see only its own rows, and a client that enters no context must
# see nothing: a context entered for the transaction ends at COMMIT or
# ROLLBACK, so the previous client's context never leaks.  A statement the
# previous client PREPAREd on the shared connection runs under the current
# client's context.
# Documented, expected behaviour (asserted so the README stays true): a
# context entered with for_session => true DOES leak to the next client of
# the server connection.  Behind a transaction pooler only transaction
# contexts may be used.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

my $pgbouncer = '/usr/sbin/pgbouncer';
plan skip_all => "$pgbouncer not found (Debian package pgbouncer)"
  unless -x $pgbouncer;

my $node = PostgreSQL::Test::Cluster->new('attack_pgbouncer');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'phleet'");
$node->start;
$node->safe_psql(
	'postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION phleet CASCADE;
SELECT phleet.controller_create('a'), phleet.controller_create('b');
CREATE ROLE owner NOLOGIN;
CREATE ROLE app LOGIN;                          -- plain pool role: tokens
CREATE ROLE pool LOGIN IN ROLE phleet_gateway;  -- gateway pool role: enter()
CREATE TABLE leads (id int PRIMARY KEY, phone text);
ALTER TABLE leads OWNER TO owner;
SELECT phleet.govern('leads');
GRANT SELECT, INSERT ON leads TO app, pool;
BEGIN;
SELECT phleet.enter('a');
INSERT INTO leads VALUES (1, 'a1'), (2, 'a2');
SELECT phleet.enter('b');
INSERT INTO leads VALUES (3, 'b1'), (4, 'b2'), (5, 'b3');
COMMIT;
});
my $tok_a = $node->safe_psql('postgres', q{SELECT phleet.mint_token('a', '1 hour')});
my $tok_b = $node->safe_psql('postgres', q{SELECT phleet.mint_token('b', '1 hour')});

# -- pgbouncer, transaction mode, one server connection per pool -----------
my $dir = PostgreSQL::Test::Utils::tempdir;
my $bport = PostgreSQL::Test::Cluster::get_free_port();
my $host = $node->host;
my $port = $node->port;
PostgreSQL::Test::Utils::append_to_file("$dir/userlist.txt", qq{"app" ""\n"pool" ""\n});
PostgreSQL::Test::Utils::append_to_file(
	"$dir/pgbouncer.ini", qq{
[databases]
phleet = host=$host port=$port dbname=postgres

[pgbouncer]
listen_addr =
listen_port = $bport
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = 1
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 20
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
});
my ($bout, $berr) = ('', '');
our $bouncer = IPC::Run::start([ $pgbouncer, "$dir/pgbouncer.ini" ],
	'>', \$bout, '2>', \$berr);
# never leave it running, even when a test dies half-way
END { $bouncer->kill_kill if $bouncer && $bouncer->pumpable; }
my $waited = 0;
until (-S "$dir/.s.PGSQL.$bport")
{
	die "pgbouncer did not start: $berr" if $waited++ > 10 * $PostgreSQL::Test::Utils::timeout_default;
	usleep(100_000);
}

# A client: one psql process connected through pgbouncer for the whole test.
my $query_no = 0;

sub client
{
	my ($user) = @_;
	my $c = { in => '', out => '', err => '' };
	$c->{h} = IPC::Run::start(
		[
			$node->installed_command('psql'), '-XAtq', '-h', $dir, '-p', $bport,
			'-U', $user, '-d', 'phleet', '-f', '-'
		],
		'<', \$c->{in}, '>', \$c->{out}, '2>', \$c->{err},
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return $c;
}

# Run one statement, return its output (errors are returned as "ERROR: ...").
sub run_sql
{
	my ($c, $sql) = @_;
	my $banner = 'done_' . ++$query_no;
	$c->{out} = '';
	$c->{err} = '';
	$c->{in} .= "$sql;\n\\echo $banner\n\\warn $banner\n";
	$c->{h}->pump until $c->{out} =~ /$banner\n/ && $c->{err} =~ /$banner\n/;
	$c->{out} =~ s/$banner\n//;
	$c->{err} =~ s/$banner\n//;
	chomp(my $out = $c->{out});
	return $c->{err} =~ /(ERROR: .*)/ ? $1 : $out;
}

my $seen = q{SELECT pg_backend_pid() || ' ' || coalesce(phleet.current_controller(), '-')
	|| ':' || count(*) || ':' || coalesce(string_agg(phone, ',' ORDER BY id), '') FROM leads};

# One transaction: BEGIN, the optional enter statement, what it sees, COMMIT.
# Returns (server pid, what it saw).
sub txn
{
	my ($c, $enter) = @_;
	run_sql($c, 'BEGIN');
	run_sql($c, $enter) if $enter;
	my $r = run_sql($c, $seen);
	run_sql($c, 'COMMIT');
	return split / /, $r, 2;
}

my %pids;

# -- 1. plain pool role, tokens ----------------------------------------------
my ($ca, $cb, $cn) = (client('app'), client('app'), client('app'));
for my $round (1 .. 2)
{
	my ($pid, $saw) = txn($ca, "SELECT phleet.enter_token('$tok_a')");
	is($saw, 'a:2:a1,a2', "tokens, round $round: client A sees only A's rows");
	$pids{app}{$pid} = 1;
	($pid, $saw) = txn($cn);
	is($saw, '-:0:', "tokens, round $round: a client entering nothing after A sees nothing");
	$pids{app}{$pid} = 1;
	($pid, $saw) = txn($cb, "SELECT phleet.enter_token('$tok_b')");
	is($saw, 'b:3:b1,b2,b3', "tokens, round $round: client B sees only B's rows");
	$pids{app}{$pid} = 1;
	($pid, $saw) = split / /, run_sql($cn, $seen), 2;
	is($saw, '-:0:', "tokens, round $round: an autocommit statement after B sees nothing");
	$pids{app}{$pid} = 1;
}
# a transaction of A that fails and rolls back leaves nothing either
run_sql($ca, 'BEGIN');
run_sql($ca, "SELECT phleet.enter_token('$tok_a')");
like(run_sql($ca, 'SELECT 1/0'), qr/division by zero/, 'client A: failing transaction');
run_sql($ca, 'ROLLBACK');
is((split / /, run_sql($cn, $seen), 2)[1], '-:0:', 'after A\'s rollback the next client sees nothing');
# a forged token gives nothing to the next client
like(run_sql($cb, q{SELECT phleet.enter_token('phleet1.a.9999999999.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')}),
	qr/signature does not match/, 'client B: a forged token for A is refused');
is((split / /, run_sql($cb, $seen), 2)[1], '-:0:', 'and leaves no context');
# a statement prepared by A on the shared connection runs under the current
# client's context
run_sql($ca, 'BEGIN');
run_sql($ca, "SELECT phleet.enter_token('$tok_a')");
run_sql($ca, q{PREPARE phones AS SELECT coalesce(string_agg(phone, ',' ORDER BY id), '') FROM leads});
is(run_sql($ca, 'EXECUTE phones'), 'a1,a2', 'client A prepares a statement on the shared connection');
run_sql($ca, 'COMMIT');
is(run_sql($cn, 'EXECUTE phones'), '', 'another client executes it outside any context: nothing');
run_sql($cb, 'BEGIN');
run_sql($cb, "SELECT phleet.enter_token('$tok_b')");
is(run_sql($cb, 'EXECUTE phones'), 'b1,b2,b3', 'client B executes it: B\'s rows only');
run_sql($cb, 'COMMIT');
run_sql($cn, 'DEALLOCATE phones');
is(scalar(keys %{ $pids{app} }), 1, 'all plain-pool clients shared one server connection');

# -- 2. gateway pool role, enter() -------------------------------------------
my ($ga, $gb, $gn) = (client('pool'), client('pool'), client('pool'));
for my $round (1 .. 2)
{
	my ($pid, $saw) = txn($ga, q{SELECT phleet.enter('a')});
	is($saw, 'a:2:a1,a2', "gateway, round $round: client A sees only A's rows");
	$pids{pool}{$pid} = 1;
	($pid, $saw) = txn($gb, q{SELECT phleet.enter('b')});
	is($saw, 'b:3:b1,b2,b3', "gateway, round $round: client B sees only B's rows");
	$pids{pool}{$pid} = 1;
	($pid, $saw) = txn($gn);
	is($saw, '-:0:', "gateway, round $round: a client entering nothing after B sees nothing");
	$pids{pool}{$pid} = 1;
}
is(scalar(keys %{ $pids{pool} }), 1, 'all gateway clients shared one server connection');

# -- 3. for_session leaks behind a transaction pooler (documented) ------------
is(run_sql($ga, q{SELECT phleet.enter('a', for_session => true)}), 'a',
	'client A enters A for the session');
is((split / /, run_sql($gn, $seen), 2)[1], 'a:2:a1,a2',
	'DOCUMENTED: the next client of the server connection inherits A\'s session context');
is((txn($gb))[1], 'a:2:a1,a2',
	'DOCUMENTED: so does a client in a transaction that enters nothing');
run_sql($gn, 'SELECT phleet.leave()');
is((split / /, run_sql($ga, $seen), 2)[1], '-:0:', 'leave() ends it');

for my $c ($ca, $cb, $cn, $ga, $gb, $gn)
{
	$c->{in} .= "\\q\n";
	$c->{h}->finish;
}
$bouncer->signal('INT');
$bouncer->finish;
$node->stop;
done_testing();
