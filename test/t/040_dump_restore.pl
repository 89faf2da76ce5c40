# pg_dump and restore into a new database, with the same master key: the
# wrapped keys, classifications, vault and audit log come along, so
# pseudonyms computed afterwards match the restored rows, reveal works, and
# new writes are pseudonymized.  The dump itself holds no identifier and no
# unwrapped key.  Both a plain SQL dump restored with psql and a custom-format
# dump restored with pg_restore are tried.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump_restore');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'phleet'
phleet.master_key_file = 'phleet.key'
});
my $keyfile = $node->data_dir . '/phleet.key';
open(my $fh, '>', $keyfile) or die;
print $fh ('9a' x 32) . "\n";
close $fh;
chmod 0600, $keyfile;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', q{
CREATE EXTENSION phleet CASCADE;
SELECT phleet.controller_create('acme'), phleet.controller_create('beta');
CREATE ROLE reader LOGIN IN ROLE phleet_reveal, phleet_gateway;
CREATE TABLE leads (id int PRIMARY KEY, phone text, email text, note text);
SELECT phleet.govern('leads');
SELECT phleet.classify('leads', 'phone', 'communication', 'phone', reveal => true);
SELECT phleet.classify('leads', 'email', 'communication', 'email');
SELECT phleet.classify('leads', 'note', 'content');
GRANT SELECT, INSERT ON leads TO reader;
BEGIN;
SELECT phleet.enter('acme');
INSERT INTO leads VALUES (1, '+1 555 123 0000', 'jane@example.com', 'a'),
                         (2, '+1 555 123 0001', NULL, 'b');
COMMIT;
BEGIN;
SELECT phleet.enter('beta');
INSERT INTO leads VALUES (3, '+1 555 123 0000', 'jane@example.com', 'c');
COMMIT;
});
my $reveal = "BEGIN; SELECT phleet.enter('acme') \\g /dev/null\n"
  . "SELECT phleet.reveal(phone) FROM leads WHERE id = 1; COMMIT;";
is($node->safe_psql('src', $reveal, extra_params => [ '-U', 'reader' ]),
	'+15551230000', 'reveal works in the source database');

# Everything a restored database must match.
sub state
{
	my ($db) = @_;
	return $node->safe_psql($db, q{
SELECT string_agg(format('%s %s %s', controller, encode(wrapped_key, 'hex'), master_key_id), E'\n' ORDER BY controller)
  FROM phleet.controller_keys;
SELECT string_agg(format('%s %s %s %s %s', relid, column_name, category, identifier, reveal), E'\n' ORDER BY column_name)
  FROM phleet.classifications;
SELECT string_agg(format('%s %s', controller, mac), E'\n' ORDER BY controller, mac) FROM phleet.vault;
SELECT string_agg(format('%s %s %s', id, phone, email), E'\n' ORDER BY id) FROM leads;
SELECT count(*) FROM phleet.audit_log;
});
}
my $src_state = state('src');

my $bindir = $node->config_data('--bindir');
my $host = $node->host;
my $port = $node->port;
my $tmp = PostgreSQL::Test::Utils::tempdir;

for my $format ('plain', 'custom')
{
	my $dst = "dst_$format";
	my $file = "$tmp/src.$format";
	command_ok([ "$bindir/pg_dump", '-h', $host, '-p', $port, '-F', substr($format, 0, 1),
			'-f', $file, 'src' ], "pg_dump ($format)");
	$node->safe_psql('postgres', "CREATE DATABASE $dst");
	if ($format eq 'plain')
	{
		command_ok([ "$bindir/psql", '-h', $host, '-p', $port, '-X', '-q',
				'-v', 'ON_ERROR_STOP=1', '-f', $file, '-d', $dst ], 'restore with psql');

		open(my $in, '<:raw', $file) or die;
		local $/;
		my $dump = <$in>;
		close $in;
		ok(index($dump, '+15551230000') < 0 && index($dump, '555 123') < 0
			  && index($dump, 'jane@example.com') < 0,
			'the dump holds no identifier');
		like($dump, qr/COPY phleet\.controller_keys/, 'the dump holds the wrapped keys');
	}
	else
	{
		command_ok([ "$bindir/pg_restore", '-h', $host, '-p', $port, '--exit-on-error',
				'-d', $dst, $file ], 'restore with pg_restore');
	}

	is(state($dst), $src_state,
		"$format: keys, classifications, vault, rows and audit log restored as they were");

	# pseudonyms computed now match the restored rows; reveal works
	is($node->safe_psql($dst, q{
BEGIN; SELECT phleet.enter('acme') \g /dev/null
SELECT id FROM leads WHERE phone = phleet.pseudonym('(555) 123-0000', 'phone')
                       AND email = phleet.pseudonym('Jane@Example.com', 'email');
COMMIT;}), '1', "$format: pseudonyms find the restored rows");
	is($node->safe_psql($dst, $reveal, extra_params => [ '-U', 'reader' ]),
		'+15551230000', "$format: reveal works after the restore");
	is($node->safe_psql($dst, "SELECT outcome FROM phleet.audit_log ORDER BY at DESC LIMIT 1"),
		'revealed', "$format: and is audited in the restored database");

	# classifications are in force: new writes are pseudonymized, bad ones refused
	$node->safe_psql($dst, q{
BEGIN; SELECT phleet.enter('beta') \g /dev/null
INSERT INTO leads VALUES (4, '+1 555 123 0000', 'JANE@example.com', 'd');
COMMIT;}, extra_params => [ '-U', 'reader' ]);
	is($node->safe_psql($dst, q{SELECT count(DISTINCT phone) || ' ' || count(DISTINCT email) FROM leads WHERE id IN (3, 4)}),
		'1 1', "$format: a new write gets the same pseudonyms as before the dump");
	my ($ret, $out, $err) = $node->psql($dst, q{
BEGIN; SELECT phleet.enter('beta') \g /dev/null
INSERT INTO leads VALUES (5, 'garbage', NULL, 'e');
COMMIT;});
	like($err, qr/invalid phone number in column "phone" of table "leads"/,
		"$format: the pseudonymize trigger is restored");
}

$node->stop;
done_testing();
