# The master key: without one, key operations fail with a hint; a key file
# that others can read, or that holds no key, is refused; 64 hex characters,
# 32 raw bytes and a command all work; rotation with
# phleet.previous_master_key_file and phleet.rewrap_keys() keeps every
# pseudonym.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('master_key');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'phleet'");
$node->start;
my $data = $node->data_dir;

# Write a key file (mode 0600 unless told otherwise).
sub write_key
{
	my ($name, $content, $mode) = @_;
	my $path = "$data/$name";
	open(my $fh, '>', $path) or die "could not write $path: $!";
	binmode $fh;
	print $fh $content;
	close $fh;
	chmod(defined $mode ? $mode : 0600, $path) or die "chmod $path: $!";
	return $path;
}

# Set phleet.* settings in postgresql.auto.conf and wait until new sessions
# see them.
sub set_keys
{
	my (%settings) = @_;
	for my $name (sort keys %settings)
	{
		$node->safe_psql('postgres',
			"ALTER SYSTEM SET phleet.$name = '$settings{$name}'");
	}
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	for my $name (sort keys %settings)
	{
		$node->poll_query_until('postgres',
			"SELECT current_setting('phleet.$name') = '$settings{$name}'")
		  or die "setting phleet.$name did not reach new sessions";
	}
}

# The pseudonym of a phone number in controller acme (dies on error).
sub pseudonym
{
	return $node->safe_psql('postgres',
		"BEGIN; SELECT phleet.enter('acme') \\g /dev/null\n"
		  . "SELECT phleet.pseudonym('+1 555 123 0000', 'phone'); COMMIT;");
}

sub pseudonym_error
{
	my ($user) = @_;
	my ($ret, $stdout, $stderr) = $node->psql('postgres',
		"BEGIN; SELECT phleet.enter('acme') \\g /dev/null\n"
		  . "SELECT phleet.pseudonym('+1 555 123 0000', 'phone'); COMMIT;",
		extra_params => defined $user ? [ '-U', $user ] : []);
	return $stderr;
}

$node->safe_psql('postgres', 'CREATE EXTENSION phleet CASCADE');

# no master key: controllers are created without a key; using one fails
$node->safe_psql('postgres', "SELECT phleet.controller_create('acme')");
is($node->safe_psql('postgres', 'SELECT count(*) FROM phleet.controller_keys'),
	'0', 'no key is created without a master key');
my $err = pseudonym_error();
like($err, qr/ERROR:  phleet has no master key/, 'no master key: clear error');
like($err, qr/HINT:  .*openssl rand -hex 32 > "\$PGDATA\/phleet.key" && chmod 600/,
	'hint says how to create one');
like($err, qr/phleet.master_key_file = 'phleet.key'/, 'hint names the setting');
($err) = ($node->psql('postgres', 'SELECT phleet.rewrap_keys()'))[2];
like($err, qr/phleet has no master key/, 'rewrap_keys needs one too');

# a missing file
set_keys(master_key_file => 'phleet.key');
$err = pseudonym_error();
like($err, qr/could not access the master key file set in phleet.master_key_file: No such file/,
	'missing key file refused');
like($err, qr/DETAIL:  phleet.master_key_file is set to "phleet.key"/,
	'the path is in the detail (never in the message: phleet.purge_log stores messages)');

# an application role is not shown the path: that goes to the server log
$node->safe_psql('postgres',
	"CREATE ROLE keys_app LOGIN; SELECT phleet.bind_role('keys_app', 'acme')");
my $log_offset = -s $node->logfile;
$err = pseudonym_error('keys_app');
like($err,
	qr/could not access the master key file set in phleet.master_key_file: No such file/,
	'missing key file refused for the application too');
like($err, qr/HINT:  A superuser sees the path with: SHOW phleet.master_key_file/,
	'hint for the application');
unlike($err, qr/phleet\.key/, 'the application is not shown the path');
like(slurp_file($node->logfile, $log_offset),
	qr/DETAIL:  phleet.master_key_file is set to "phleet.key"/,
	'the server log has the path');

# a file others can read
write_key('phleet.key', ('ab' x 32) . "\n", 0644);
$err = pseudonym_error();
like($err, qr/the master key file set in phleet.master_key_file is accessible to other users/,
	'group/world-readable key file refused');
like($err, qr/permissions are 0644/, 'detail shows the mode');
like($err, qr/HINT:  Run: chmod 600 "phleet.key"/, 'hint says how to fix it');
$err = pseudonym_error('keys_app');
like($err, qr/the master key file set in phleet.master_key_file is accessible to other users/,
	'the application is told too');
unlike($err, qr/phleet\.key/, 'without the path');
chmod(0640, "$data/phleet.key");
like(pseudonym_error(), qr/accessible to other users/, 'group-readable refused too');

# a file that holds no key
write_key('phleet.key', 'too short');
like(pseudonym_error(), qr/the master key file set in phleet.master_key_file does not hold a master key/,
	'garbage refused');
write_key('phleet.key', ('zz' x 32) . "\n");
like(pseudonym_error(), qr/does not hold a master key/, 'non-hex 64 characters refused');

# 64 hex characters (with a newline): works, and the key is created at
# first use for the controller that existed before
my $hexkey = '5e' x 32;
write_key('phleet.key', "$hexkey\n");
my $p1 = pseudonym();
like($p1, qr/^ps1p_[a-z2-7]{32}$/, 'hex key file works');
is($node->safe_psql('postgres',
		'SELECT count(*) FROM phleet.controller_keys WHERE wrapped_key IS NOT NULL'),
	'1', 'the existing controller got its key at first use');
my $id1 = $node->safe_psql('postgres', 'SELECT master_key_id FROM phleet.controller_keys');

# new controllers get their key at creation
$node->safe_psql('postgres', "SELECT phleet.controller_create('beta')");
is($node->safe_psql('postgres',
		"SELECT count(*) FROM phleet.controller_keys WHERE controller = 'beta'"),
	'1', 'a new controller gets its key with it');

# the same key as 32 raw bytes, and printed by a command
write_key('phleet-raw.key', pack('H*', $hexkey));
set_keys(master_key_file => 'phleet-raw.key');
is(pseudonym(), $p1, 'the same key as 32 raw bytes gives the same pseudonyms');
set_keys(master_key_file => '', master_key_command => "cat $data/phleet.key");
is(pseudonym(), $p1, 'the same key printed by master_key_command works');
set_keys(master_key_command => 'exit 3');
like(pseudonym_error(), qr/phleet.master_key_command failed/, 'a failing command is reported');
set_keys(master_key_command => "cat $data/phleet.key", master_key_file => 'phleet.key');
like(pseudonym_error(), qr/both phleet.master_key_file and phleet.master_key_command are set/,
	'both settings at once refused');
set_keys(master_key_command => '');

# a wrong master key cannot unwrap anything
write_key('other.key', ('11' x 32) . "\n");
set_keys(master_key_file => 'other.key');
$err = pseudonym_error();
like($err, qr/wrapped under master key $id1, which is not configured/,
	'a key under another master key is reported with its id');
like($err, qr/HINT:  Set phleet.previous_master_key_file/, 'hint names the rotation setting');

# rotation: new master key, old one as previous; pseudonyms never change
write_key('phleet-new.key', ('77' x 32) . "\n");
set_keys(master_key_file => 'phleet-new.key', previous_master_key_file => 'phleet.key');
is(pseudonym(), $p1, 'during rotation keys under the previous master key still work');
is($node->safe_psql('postgres', 'SELECT phleet.rewrap_keys()'), '2', 'rewrap_keys re-wraps both keys');
is($node->safe_psql('postgres', 'SELECT phleet.rewrap_keys()'), '0', 'and then nothing is left');
my $id2 = $node->safe_psql('postgres',
	'SELECT string_agg(DISTINCT master_key_id, \',\') FROM phleet.controller_keys');
isnt($id2, $id1, 'keys are now under the new master key');
set_keys(previous_master_key_file => '');
unlink("$data/phleet.key");
is(pseudonym(), $p1, 'after rotation, without the old key, pseudonyms are unchanged');

# the settings are superuser-only and cannot be set in a session
$node->safe_psql('postgres', 'CREATE ROLE app LOGIN');
($err) = ($node->psql('postgres', 'SHOW phleet.master_key_file', extra_params => [ '-U', 'app' ]))[2];
like($err, qr/must be superuser or have privileges of pg_read_all_settings/,
	'the key file name is hidden from other roles');
($err) = ($node->psql('postgres', "SET phleet.master_key_file = 'x'"))[2];
like($err, qr/cannot be changed now/, 'not settable in a session');

$node->stop;
done_testing();
