# Rows locked by other transactions do not stop the purge.
#
# Any role can lock rows of its own (SELECT ... FOR UPDATE needs only the
# UPDATE privilege an application has) and keep them locked in an open
# transaction.  A purge that waited for such a row stopped the batch, so
# every controller sharing the cut-off (its cohort) kept its expired rows for
# as long as the lock lasted.  The purge now waits 50 ms for a row's lock,
# then deletes the batch without the locked rows and leaves them for the
# next purge.  Here controller lock-a's application locks four of its
# expired rows and updates a fifth while lock-b's rows, interleaved in time,
# expire too: the purge deletes everything but those five.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('purge_locks');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'phleet'");
$node->start;

$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION phleet CASCADE;
SELECT phleet.controller_create('lock-a'), phleet.controller_create('lock-b');
CREATE ROLE app_a LOGIN;
SELECT phleet.bind_role('app_a', 'lock-a');
CREATE TABLE msgs (id integer PRIMARY KEY, at timestamptz NOT NULL, note text);
SELECT phleet.govern('msgs');
GRANT SELECT, INSERT, UPDATE ON msgs TO app_a;
SELECT phleet.retain('msgs', '10 days', 'at');
-- expired: lock-a 1..20, lock-b 201..220, interleaved in time; kept: 100, 300
BEGIN;
SELECT phleet.enter('lock-a');
INSERT INTO msgs SELECT g, now() - interval '20 days' + g * interval '2 hours', 'a' FROM generate_series(1, 20) g;
INSERT INTO msgs VALUES (100, now(), 'a, kept');
COMMIT;
BEGIN;
SELECT phleet.enter('lock-b');
INSERT INTO msgs SELECT 200 + g, now() - interval '20 days' + g * interval '2 hours' + interval '1 hour', 'b'
  FROM generate_series(1, 20) g;
INSERT INTO msgs VALUES (300, now(), 'b, kept');
COMMIT;
});

my $expired = q{SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM msgs
	WHERE at < now() - interval '10 days'};

# lock-a's application, not a superuser: row locks held, an update in flight
my $locker = $node->background_psql('postgres', extra_params => [ '-U', 'app_a' ]);
$locker->query_safe('BEGIN');
is($locker->query_safe('SELECT count(*) FROM (SELECT id FROM msgs WHERE id IN (1, 5, 10, 15) FOR UPDATE) s'),
	'4', 'the application locks four of its expired rows');
my $updater = $node->background_psql('postgres', extra_params => [ '-U', 'app_a' ]);
$updater->query_safe('BEGIN');
$updater->query_safe(q{UPDATE msgs SET note = 'being edited' WHERE id = 7});

# batches of 4 rows: every batch of the first half meets a locked row
my ($ret, $out, $err) = $node->psql('postgres', 'CALL phleet.purge(4)');
is($ret, 0, 'the purge runs to its end');
like($out, qr/^\d+\|done\|35\|0\|0$/, 'and deletes the 35 expired rows nobody locks');
is($node->safe_psql('postgres', $expired), '1,5,7,10,15', 'it leaves the five locked rows, and only them');
like($err, qr/expired rows locked by other transactions left for the next purge/,
	'it says it left locked rows');
is($node->safe_psql('postgres', q{SELECT count(*) FROM phleet.purge_log WHERE status = 'error'}),
	'0', 'no batch failed');
is($node->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM msgs}),
	'1,5,7,10,15,100,300', 'rows within retention stay');

$locker->query_safe('COMMIT');
$updater->query_safe('COMMIT');
($ret, $out, $err) = $node->psql('postgres', 'CALL phleet.purge(4)');
like($out, qr/^\d+\|done\|5\|0\|0$/, 'once the locks are gone, the next purge deletes the rest');
is($node->safe_psql('postgres', $expired), '', 'no expired row is left');

# the same in a partitioned table, rows deleted row by row: the batch locks
# the parent, and the partitions its window is in as the DELETE opens them
$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE TABLE msgs_p (id integer, at timestamptz NOT NULL, note text) PARTITION BY RANGE (at);
CREATE TABLE msgs_p_old PARTITION OF msgs_p FOR VALUES FROM ('-infinity') TO ('2000-01-01');
CREATE TABLE msgs_p_new PARTITION OF msgs_p FOR VALUES FROM ('2000-01-01') TO ('infinity');
SELECT phleet.govern('msgs_p');
GRANT SELECT, UPDATE ON msgs_p TO app_a;
SELECT phleet.retain('msgs_p', '10 days', 'at');
BEGIN;
SELECT phleet.enter('lock-a');
INSERT INTO msgs_p SELECT g, now() - interval '20 days' + g * interval '2 hours', 'a' FROM generate_series(1, 20) g;
COMMIT;
BEGIN;
SELECT phleet.enter('lock-b');
INSERT INTO msgs_p SELECT 200 + g, now() - interval '20 days' + g * interval '2 hours' + interval '1 hour', 'b'
  FROM generate_series(1, 20) g;
COMMIT;
});
$locker->query_safe('BEGIN');
$locker->query_safe('SELECT count(*) FROM (SELECT id FROM msgs_p WHERE id IN (2, 12) FOR UPDATE) s');
($ret, $out, $err) = $node->psql('postgres',
	'SET phleet.purge_partitions = off; CALL phleet.purge(4)');
is($ret, 0, 'partitioned: the purge runs to its end');
is($node->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM msgs_p}),
	'2,12', 'partitioned: it leaves the two locked rows, and only them');
$locker->query_safe('COMMIT');

# Rows locked in a table that references the purged one (review 13): A's
# application keeps its messages locked, so each delete of one of A's
# expired leads waits 50 ms for the message ON DELETE CASCADE must delete,
# then fails.  Counted as locked rather than failed, A was never set aside:
# every window of B's holding some of A's leads went piece by piece, waiting
# for each of them.  A is now set aside after the first batch that meets
# them; B's leads go in batches of B's alone.
$node->safe_psql('postgres', q{
SET client_min_messages = warning;
CREATE TABLE leads (id integer PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE lead_msgs (id integer PRIMARY KEY, lead_id integer REFERENCES leads ON DELETE CASCADE);
SELECT phleet.govern('leads'), phleet.govern('lead_msgs');
GRANT SELECT, UPDATE ON lead_msgs TO app_a;
SELECT phleet.retain('leads', '10 days', 'at');
-- expired, interleaved in time: lock-a's 1..10, each with a message;
-- lock-b's 101..130, three after each of lock-a's
BEGIN;
SELECT phleet.enter('lock-a');
INSERT INTO leads SELECT g, now() - interval '20 days' + g * interval '4 hours' FROM generate_series(1, 10) g;
INSERT INTO lead_msgs SELECT g, g FROM generate_series(1, 10) g;
COMMIT;
BEGIN;
SELECT phleet.enter('lock-b');
INSERT INTO leads SELECT 100 + g, now() - interval '20 days' + ((g + 2) / 3) * interval '4 hours'
                                  + (g % 3 + 1) * interval '1 hour'
  FROM generate_series(1, 30) g;
COMMIT;
});
$locker->query_safe('BEGIN');
is($locker->query_safe('SELECT count(*) FROM (SELECT FROM lead_msgs FOR UPDATE) s'),
	'10', 'lock-a\'s application locks its messages');
($ret, $out, $err) = $node->psql('postgres', 'CALL phleet.purge(4)');
is($ret, 0, 'referencing rows locked: the purge runs to its end');
is($node->safe_psql('postgres',
		q{SELECT string_agg(format('%s %s %s set_aside=%s', controller, status, rows_deleted, set_aside), '; '
		                    ORDER BY controller)
		    FROM phleet.purge_log WHERE table_name = 'public.leads'
		     AND run_id = (SELECT max(run_id) FROM phleet.purge_runs)}),
	'lock-a done 0 set_aside=t; lock-b done 30 set_aside=f',
	'lock-a is set aside, lock-b\'s leads all go');
cmp_ok($node->safe_psql('postgres',
		q{SELECT batches FROM phleet.purge_log WHERE table_name = 'public.leads' AND controller = 'lock-b'
		     AND run_id = (SELECT max(run_id) FROM phleet.purge_runs)}),
	'<=', 9, 'in batches of lock-b\'s rows, not piece by piece');
is($node->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM leads}),
	'1,2,3,4,5,6,7,8,9,10', 'lock-a\'s leads stay for the next purge');
$locker->query_safe('COMMIT');

$locker->quit;
$updater->quit;
$node->stop;
done_testing();
