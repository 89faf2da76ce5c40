# phleet refuses to work in a server that did not preload it: hooks and the
# context setting must exist in every backend from its first statement.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('nopreload');
$node->init;
$node->start;

my ($ret, $stdout, $stderr) =
  $node->psql('postgres', 'CREATE EXTENSION phleet CASCADE');
isnt($ret, 0, 'CREATE EXTENSION fails without shared_preload_libraries');
like($stderr, qr/phleet must be loaded via shared_preload_libraries/,
	'error names the problem');
like($stderr, qr/HINT:\s+Add phleet to shared_preload_libraries/,
	'hint says what to add');

($ret, $stdout, $stderr) = $node->psql('postgres', "LOAD 'phleet'");
isnt($ret, 0, 'LOAD of the library is refused too');

is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_extension WHERE extname = 'phleet'"),
	'0', 'nothing was left installed');

# once preloaded, it installs
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'phleet'");
$node->restart;
$node->safe_psql('postgres', 'CREATE EXTENSION phleet CASCADE');
is($node->safe_psql('postgres', 'SELECT phleet.current_controller() IS NULL'),
	't', 'installed and working after a restart with the library preloaded');

# a reserved prefix: unknown phleet.* settings are refused
($ret, $stdout, $stderr) =
  $node->psql('postgres', "SET phleet.no_such_setting = 'x'");
isnt($ret, 0, 'unknown phleet.* setting refused');

$node->stop;
done_testing();
