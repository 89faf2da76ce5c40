# Crash during a purge: the server is killed (immediate shutdown, no
# checkpoint) while phleet.purge() deletes a large table in committed
# batches.  After restart no row within retention is missing, the log shows
# the interrupted run and accounts exactly for the rows that are gone, and
# the next purge finishes the job.
#
# Then the partition path: the purge's backend is killed (SIGKILL, crash
# restart) after it has detached the expired partitions and before it drops
# them; the detached partitions are recorded in phleet.purge_detached, their
# rows logged, and the next purge drops them before anything else.
#
# Also: without pg_cron preloaded, phleet.schedule_purge() fails with a hint
# naming the settings to add.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('purge_crash');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'phleet'");
# a backend killed with SIGKILL makes the server restart (the partition case)
$node->append_conf('postgresql.conf', "restart_after_crash = on");
$node->start;

$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION phleet CASCADE;
SELECT phleet.controller_create('crash-' || g) FROM generate_series(1, 4) g;
CREATE TABLE events (id bigserial PRIMARY KEY, at timestamptz NOT NULL, payload text);
SELECT phleet.govern('events');
});

# per controller 75,000 expired rows (100 to 200 days old) and 25,000 kept
# rows (within the last 10 days), interleaved in time
for my $c (1 .. 4)
{
	$node->safe_psql('postgres', qq{
BEGIN;
SELECT phleet.enter('crash-$c');
INSERT INTO events (at, payload)
SELECT now() - interval '200 days' + (g * 4 + $c) * interval '100 days' / 300000, md5(g::text)
  FROM generate_series(1, 75000) g;
INSERT INTO events (at, payload)
SELECT now() - interval '10 days' + (g * 4 + $c) * interval '10 days' / 100000, md5(g::text)
  FROM generate_series(1, 25000) g;
COMMIT;
});
}
$node->safe_psql('postgres', q{
SET client_min_messages = warning;
SELECT phleet.retain('events', '30 days', 'at');
VACUUM ANALYZE events;
});

my $kept_before = $node->safe_psql('postgres',
	q{SELECT count(*) || '/' || sum(hashtext(id::text || at::text)) FROM events WHERE at > now() - interval '30 days'});
is($node->safe_psql('postgres', 'SELECT count(*) FROM events'), '400000', 'loaded 400,000 rows');

# purge in batches of 1,000 rows in the background ...
my ($stdout, $stderr) = ('', '');
my $purge = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', 'CALL phleet.purge(1000)' ],
	'>', \$stdout, '2>', \$stderr);

# ... and crash the server once it has committed some batches
ok( $node->poll_query_until(
		'postgres',
		q{SELECT coalesce(sum(rows_deleted), 0) >= 20000 FROM phleet.purge_log WHERE status = 'running'}),
	'purge is under way');
$node->stop('immediate');
$purge->finish;
like($stderr, qr/terminat|connection/i, 'the purge session died with the server');

$node->start;

is( $node->safe_psql('postgres',
		q{SELECT count(*) || '/' || sum(hashtext(id::text || at::text)) FROM events WHERE at > now() - interval '30 days'}),
	$kept_before,
	'no row within retention is missing after the crash');

my $gone = $node->safe_psql('postgres',
	q{SELECT 300000 - count(*) FROM events WHERE at < now() - interval '30 days'});
ok($gone >= 20000 && $gone < 300000, "the crash interrupted the purge ($gone rows gone)");

is( $node->safe_psql('postgres',
		q{SELECT status || ' ' || (finished IS NULL)::text FROM phleet.purge_runs}),
	'running true',
	'the interrupted run is visible: started, never finished');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(DISTINCT status, ',') || ' ' || sum(rows_deleted) FROM phleet.purge_log}),
	"running $gone",
	'its log rows are committed batch by batch and account for every row gone');

# the next purge marks the dead run interrupted and finishes the job
my $summary = $node->safe_psql('postgres',
	q{SET client_min_messages = warning; CALL phleet.purge(50000)});
# (run ids come from a sequence, which skips values after a crash)
like($summary, qr/^\d+\|done\|@{[300000 - $gone]}\|0\|0$/, 'the next purge deletes the rest');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(status, ' ' ORDER BY run_id) FROM phleet.purge_runs}),
	'interrupted done',
	'the crashed run is marked interrupted');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(status || ' ' || n, ', ' ORDER BY run_id)
		    FROM (SELECT run_id, status, sum(rows_deleted) AS n FROM phleet.purge_log GROUP BY 1, 2) s}),
	"interrupted $gone, done @{[300000 - $gone]}",
	'the log accounts for both runs');
is($node->safe_psql('postgres', q{SELECT count(*) FROM events WHERE at < now() - interval '30 days'}),
	'0', 'no expired row is left');
is( $node->safe_psql('postgres',
		q{SELECT count(*) || '/' || sum(hashtext(id::text || at::text)) FROM events WHERE at > now() - interval '30 days'}),
	$kept_before,
	'and no row within retention is missing');

# Partitions: a purge detaches a table's expired partitions in one
# transaction and drops them all in one later transaction.  Kill the purge's
# backend (kill -9: the server restarts and recovers) after the partitions
# are detached and before they are dropped: the DROP TABLE is made to wait by
# an event trigger of the test that waits for an advisory lock another
# session holds.
$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE TABLE pevents (id bigint, at timestamptz NOT NULL, payload text) PARTITION BY RANGE (at);
CREATE TABLE pevents_cut AS SELECT date_trunc('day', now()) - interval '30 days' AS cut;
DO $$
DECLARE cut timestamptz := (SELECT c.cut FROM pevents_cut c);
BEGIN
    FOR k IN 0 .. 5 LOOP
        EXECUTE format('CREATE TABLE pevents_p%s PARTITION OF pevents FOR VALUES FROM (%L) TO (%L)',
                       k, cut - (6 - k) * interval '20 days', cut - (5 - k) * interval '20 days');
    END LOOP;
    EXECUTE format('CREATE TABLE pevents_now PARTITION OF pevents FOR VALUES FROM (%L) TO (MAXVALUE)', cut);
END
$$;
SELECT phleet.govern('pevents');
});
# per controller 6 x 2,500 expired rows (one batch per partition) and 2,500 kept rows
for my $c (1 .. 4)
{
	$node->safe_psql('postgres', qq{
BEGIN;
SELECT phleet.enter('crash-$c');
INSERT INTO pevents (id, at, payload)
SELECT g, c.cut - interval '120 days' + (g * 4 + $c) * interval '120 days' / 60005, md5(g::text)
  FROM generate_series(1, 15000) g, pevents_cut c;
INSERT INTO pevents (id, at, payload)
SELECT g, c.cut + interval '1 day' + g * interval '1 minute', md5(g::text)
  FROM generate_series(1, 2500) g, pevents_cut c;
COMMIT;
});
}
$node->safe_psql('postgres', q{
SET client_min_messages = warning;
SELECT phleet.retain('pevents', '30 days', 'at');
VACUUM ANALYZE pevents;
});
my $pkept_sql = q{SELECT count(*) || '/' || sum(hashtext(id::text || at::text || payload)) FROM pevents WHERE at >= (SELECT cut FROM pevents_cut)};
my $pkept_before = $node->safe_psql('postgres', $pkept_sql);
is($node->safe_psql('postgres', 'SELECT count(*) FROM pevents'), '70000', 'loaded 70,000 rows in 7 partitions');
my $expired = $node->safe_psql('postgres',
	q{SELECT count(*) FROM pevents WHERE tableoid <> 'pevents_now'::regclass});
is($expired, '60000', '60,000 expired rows in 6 partitions');

$node->safe_psql('postgres', q{
CREATE FUNCTION test_wait_before_drop() RETURNS event_trigger LANGUAGE plpgsql SET lock_timeout = 0
AS $$ BEGIN PERFORM pg_advisory_lock_shared(4711); PERFORM pg_advisory_unlock_shared(4711); END $$;
CREATE EVENT TRIGGER test_wait_before_drop ON ddl_command_start WHEN TAG IN ('DROP TABLE')
    EXECUTE FUNCTION test_wait_before_drop();
});
my $blocker = $node->background_psql('postgres');
$blocker->query_safe('SELECT pg_advisory_lock(4711);');

($stdout, $stderr) = ('', '');
$purge = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', 'CALL phleet.purge()' ],
	'>', \$stdout, '2>', \$stderr);

# the purge's DROP TABLE waits with the six partitions detached: find its
# backend then, and kill it.  The detach commits asynchronously (the drop's
# commit flushes it); a detach whose WAL is not flushed yet is lost in a
# crash, the partitions stay attached and nothing is recorded.  To find the
# detach after the crash, kill only once the wait has lasted 0.7 s: the WAL
# writer flushes asynchronous commits within three wal_writer_delay (200 ms).
my $victim = '';
for (my $i = 0; $i < 10 * $PostgreSQL::Test::Utils::timeout_default && $victim eq ''; $i++)
{
	$victim = $node->safe_psql('postgres', q{
SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
 WHERE a.query = 'CALL phleet.purge()' AND l.waitstart < clock_timestamp() - interval '700 ms'
   AND (SELECT count(*) FROM phleet.purge_detached) = 6});
	usleep(20_000) if $victim eq '';
}
isnt($victim, '', 'the purge has detached six partitions and waits to drop them');
kill 'KILL', $victim;
$purge->finish;
like($stderr, qr/terminat|connection|closed/i, 'the purge session died');
eval { $blocker->quit; };
# the server restarts and recovers; wait until it accepts connections
my $back = 0;
for (my $i = 0; $i < 10 * $PostgreSQL::Test::Utils::timeout_default && !$back; $i++)
{
	$back = eval { $node->safe_psql('postgres', 'SELECT 1') eq '1' };
	usleep(100_000) unless $back;
}
ok($back, 'the server restarted after the crash');

is($node->safe_psql('postgres', $pkept_sql), $pkept_before,
	'no row within retention is missing after the crash');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(d.partition_name || ':' || (c.oid IS NOT NULL AND NOT c.relispartition)::text, ',' ORDER BY d.partition_name)
		    FROM phleet.purge_detached d LEFT JOIN pg_class c ON c.oid = d.relid}),
	join(',', map { "public.pevents_p$_:true" } 0 .. 5),
	'the six detached partitions are recorded, exist, and are no longer partitions');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		   WHERE i.inhparent = 'pevents'::regclass}),
	'pevents_now',
	'the table keeps only the partition within retention');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(DISTINCT l.status, ',') || ' ' || sum(l.rows_deleted) || ' ' || count(DISTINCT l.partition_name)
		    FROM phleet.purge_log l WHERE l.relid = 'pevents'::regclass}),
	"running $expired 6",
	'the log accounts for the rows of the detached partitions, per controller, as running');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM phleet.purge_log l WHERE l.relid = 'pevents'::regclass AND l.controller IS NOT NULL}),
	'24', 'one log row per partition and controller');

# the next purge drops the six leftovers before anything else
$node->safe_psql('postgres', 'DROP EVENT TRIGGER test_wait_before_drop');
$summary = $node->safe_psql('postgres',
	q{SET client_min_messages = warning; CALL phleet.purge()});
like($summary, qr/^\d+\|done\|0\|0\|6$/,
	'the next purge drops the leftovers (their rows are logged in the run that detached them)');
is($node->safe_psql('postgres', 'SELECT count(*) FROM phleet.purge_detached'), '0', 'nothing is left detached');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c
		   WHERE c.relname LIKE 'pevents%' AND c.relkind IN ('r', 'p')}),
	'pevents,pevents_cut,pevents_now', 'every expired partition is gone');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(s, ', ' ORDER BY s) FROM (
		    SELECT l.status || ' ' || sum(l.rows_deleted) || ' in ' || count(DISTINCT l.partition_name) AS s
		      FROM phleet.purge_log l WHERE l.relid = 'pevents'::regclass GROUP BY l.run_id, l.status) x}),
	"done 0 in 6, interrupted $expired in 6",
	'the log: the interrupted run logged the detached rows, the next run dropped the leftovers');
is( $node->safe_psql('postgres', q{SELECT count(*) FROM pevents WHERE at < (SELECT cut FROM pevents_cut)}),
	'0', 'no expired row is left');
is($node->safe_psql('postgres', $pkept_sql), $pkept_before,
	'and no row within retention is missing');

# scheduling needs pg_cron preloaded
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT phleet.schedule_purge()');
isnt($ret, 0, 'schedule_purge fails without pg_cron');
like($err, qr/ERROR:  pg_cron is not loaded/, 'the error says pg_cron is not loaded');
like($err, qr/HINT:  Add pg_cron to shared_preload_libraries and set cron.database_name = 'postgres' in postgresql.conf/,
	'the hint names the settings to add');
($ret, $out, $err) = $node->psql('postgres', 'SELECT phleet.unschedule_purge()');
like($err, qr/pg_cron is not loaded/, 'unschedule_purge says so too');

$node->stop;
done_testing();
