# Crash during a purge: the server is killed (immediate shutdown, no
# checkpoint) while phleet.purge() deletes a large table in committed
# batches.  After restart no row within retention is missing, the log shows
# the interrupted run and accounts exactly for the rows that are gone, and
# the next purge finishes the job.
#
# Also: without pg_cron preloaded, phleet.schedule_purge() fails with a hint
# naming the settings to add.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('purge_crash');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'phleet'");
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
