# phleet.max_audit_writers: reveal() (and forget()) commit their audit row
# through a background worker each; no more than phleet.max_audit_writers of
# them run at once, so a flood of calls (refused ones are audited too) cannot
# take every background worker slot.  A call waits for a slot; a worker keeps
# its slot until it exits, also when its caller was cancelled.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('audit_writers');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'phleet'
phleet.max_audit_writers = 1
max_worker_processes = 8
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION phleet CASCADE;
SELECT phleet.controller_create('acme');
CREATE ROLE app LOGIN;
SELECT phleet.bind_role('app', 'acme');
});

my $ps = 'ps1p_' . ('a' x 32);
my $writers = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'phleet audit writer'};

# Start a reveal() as app in a session of its own; returns the session and
# its backend's PID.
sub start_reveal
{
	my $s = $node->background_psql('postgres', extra_params => [ '-U', 'app' ], on_error_stop => 0);
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	$s->query_until(qr/started/, "\\echo started\nSELECT phleet.reveal('$ps');\n");
	return ($s, $pid);
}

# The audit log is locked: the first call's worker waits for it
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN');
$locker->query_safe('LOCK TABLE phleet.audit_log IN SHARE MODE');
my ($s1, $pid1) = start_reveal();
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'phleet audit writer' AND wait_event_type = 'Lock'")
  or die 'the first audit writer did not start';

# a second call waits for a slot instead of starting a second worker
my ($s2, $pid2) = start_reveal();
ok($node->poll_query_until('postgres',
		"SELECT wait_event_type = 'Extension' FROM pg_stat_activity WHERE pid = $pid2"),
	'a second reveal() waits for a slot');
is($node->safe_psql('postgres', $writers), '1', 'while one audit writer runs');

# a cancelled caller's worker keeps its slot until it is done
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid1)");
$node->poll_query_until('postgres', "SELECT state = 'idle' FROM pg_stat_activity WHERE pid = $pid1")
  or die 'the first call was not cancelled';
is($node->safe_psql('postgres', "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $pid2"),
	'Extension', 'the second call still waits once the first caller is cancelled');
is($node->safe_psql('postgres', $writers), '1', 'the cancelled call\'s writer still runs');

# the lock goes: both rows are written, one after the other
$locker->query_safe('COMMIT');
$node->poll_query_until('postgres', "SELECT state = 'idle' FROM pg_stat_activity WHERE pid = $pid2")
  or die 'the second call did not finish';
is($node->safe_psql('postgres',
		q{SELECT string_agg(outcome, ',') FROM phleet.audit_log WHERE action = 'reveal'}),
	'denied,denied', 'both calls are recorded, the cancelled one too');
$s1->quit;
$s2->quit;

# every slot is back: a call does not wait
my ($ret, $out, $err) = $node->psql('postgres', "SET statement_timeout = '20s'; SELECT phleet.reveal('$ps')",
	extra_params => [ '-U', 'app' ]);
like($err, qr/permission denied to reveal pseudonyms/, 'the next call gets its slot at once');
is($node->safe_psql('postgres', $writers), '0', 'no audit writer is left');

# check() warns when the writers could take every background worker
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM phleet.check() WHERE object = 'setting phleet.max_audit_writers'}),
	'0', 'check() is silent at 1 writer of 8 workers');
$node->safe_psql('postgres', 'ALTER SYSTEM SET phleet.max_audit_writers = 8');
$node->reload;
$node->poll_query_until('postgres', q{SELECT current_setting('phleet.max_audit_writers') = '8'})
  or die 'the setting did not change';
like($node->safe_psql('postgres',
		q{SELECT severity || ': ' || finding FROM phleet.check() WHERE object = 'setting phleet.max_audit_writers'}),
	qr/^warning: phleet.max_audit_writers \(8\) is not below max_worker_processes \(8\)/,
	'and warns at 8 of 8');

# the setting is the server's
($ret, $out, $err) = $node->psql('postgres', 'SET phleet.max_audit_writers = 5');
like($err, qr/parameter "phleet.max_audit_writers" cannot be changed now/, 'set in postgresql.conf only');

done_testing();
