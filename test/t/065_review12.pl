# Review 12.
#
# 1. A wakeup lost among reveal() calls waiting for an audit writer
# slot (phleet.max_audit_writers).  A finished writer woke one waiting call
# (ConditionVariableSignal); when that call was cancelled before it took the
# slot, the wakeup went with it, and the next waiting call slept on with
# every slot free, until some other reveal() finished.  Every waiting call is
# now woken (ConditionVariableBroadcast) and looks again.
#
# The woken call is held between its wakeup and its look with SIGSTOP, and
# cancelled while stopped.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('review12');
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

sub start_reveal
{
	my $s = $node->background_psql('postgres', extra_params => [ '-U', 'app' ], on_error_stop => 0);
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	$s->query_until(qr/started/, "\\echo started\nSELECT phleet.reveal('$ps');\n");
	return ($s, $pid);
}

sub waits_for_slot
{
	my ($pid) = @_;
	return $node->poll_query_until('postgres',
		"SELECT wait_event_type = 'Extension' FROM pg_stat_activity WHERE pid = $pid");
}

# the only slot: a writer that waits for the audit log's lock
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN');
$locker->query_safe('LOCK TABLE phleet.audit_log IN SHARE MODE');
my ($s1, $pid1) = start_reveal();
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'phleet audit writer' AND wait_event_type = 'Lock'")
  or die 'the first audit writer did not start';

# two calls wait for the slot, the second behind the first
my ($s2, $pid2) = start_reveal();
waits_for_slot($pid2) or die 'the second call does not wait';
my ($s3, $pid3) = start_reveal();
waits_for_slot($pid3) or die 'the third call does not wait';

# the first waiting call is stopped; the writer finishes and wakes it; it is
# cancelled before it can look at the slot
kill 'STOP', $pid2;
$locker->query_safe('COMMIT');
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'phleet audit writer'")
  or die 'the first writer did not finish';
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid2)");
kill 'CONT', $pid2;
$node->poll_query_until('postgres', "SELECT state = 'idle' FROM pg_stat_activity WHERE pid = $pid2")
  or die 'the second call was not cancelled';

# the third call gets the free slot
ok($node->poll_query_until('postgres', "SELECT state = 'idle' FROM pg_stat_activity WHERE pid = $pid3"),
	'a waiting call is not left asleep when the call woken before it is cancelled');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM phleet.audit_log WHERE action = 'reveal'}),
	'2', 'the first and the third call are recorded');

$s1->quit;
$s2->quit;
$s3->quit;

# 2. The master key file's path reached an application in
# phleet.purge_log.error.  Master key errors name the file only to roles
# that may read phleet.master_key_file; the purge runs as such a role (a
# superuser, here and from pg_cron) and stores the message of an error in
# the log, where each controller reads its rows.  Here the vault pruning,
# which needs the controller's key, meets a key file that others can read.
# The path is now in the error's detail (or, for other roles, the server
# log) only, never in its message.
my $keyfile = $node->data_dir . '/secret-dir-review12/phleet.key';
mkdir($node->data_dir . '/secret-dir-review12') or die "mkdir: $!";
open(my $fh, '>', $keyfile) or die "could not write $keyfile: $!";
print $fh ('ab' x 32) . "\n";
close $fh;
chmod(0600, $keyfile) or die "chmod: $!";
$node->safe_psql('postgres', "ALTER SYSTEM SET phleet.master_key_file = '$keyfile'");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
$node->poll_query_until('postgres', "SELECT current_setting('phleet.master_key_file') = '$keyfile'")
  or die 'the key file setting did not reach new sessions';
$node->safe_psql('postgres', q{
SET client_min_messages = warning;
SELECT phleet.controller_create('vk');
CREATE ROLE vk_app LOGIN;
SELECT phleet.bind_role('vk_app', 'vk');
CREATE TABLE msgs (id int PRIMARY KEY, at timestamptz NOT NULL, phone text);
SELECT phleet.govern('msgs');
SELECT phleet.classify('msgs', 'phone', 'personal', 'phone', true);
CREATE INDEX ON msgs (controller, phone);
GRANT ALL ON msgs TO vk_app;
});
$node->safe_psql('postgres', q{
BEGIN;
SELECT phleet.enter('vk');
INSERT INTO msgs VALUES (1, now() - interval '20 days', '+1 555 123 0001'), (2, now(), '+1 555 123 0002');
COMMIT;
}, extra_params => [ '-U', 'vk_app' ]);
$node->safe_psql('postgres', q{
SET client_min_messages = warning;
SELECT phleet.retain('msgs', '10 days', 'at');
});
chmod(0644, $keyfile) or die "chmod: $!";
my ($ret, $out, $err) = $node->psql('postgres', 'CALL phleet.purge()');
like($err, qr/vault of controller vk not pruned: .*accessible to other users/,
	'the pruning fails on the key file');
my $logged = $node->safe_psql('postgres',
	"BEGIN; SELECT phleet.enter('vk') \\g /dev/null\nSELECT string_agg(error, ';') FROM phleet.purge_log WHERE error IS NOT NULL; COMMIT;",
	extra_params => [ '-U', 'vk_app' ]);
like($logged, qr/accessible to other users/, 'the controller reads the error in purge_log');
unlike($logged, qr/secret-dir-review12/, 'without the key file\'s path');
like($err, qr/HINT:  .*secret-dir-review12/, 'the superuser who ran the purge has the path');

done_testing();
