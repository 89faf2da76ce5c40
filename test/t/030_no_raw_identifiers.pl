# Identifiers written to classified columns reach neither the data files nor
# the WAL: after INSERT, COPY, UPDATE, ON CONFLICT and MERGE, a CHECKPOINT
# and a byte search of every file of the database and of the WAL written
# meanwhile finds none of them.  The same identifiers written to a column
# that is not classified are found, which shows that the search works.
# Also: after phleet.controller_forget(), the controller's wrapped key is in
# no data file.
use strict;
use warnings;
use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('no_raw');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'phleet'
phleet.master_key_file = 'phleet.key'
wal_level = replica
});
my $keyfile = $node->data_dir . '/phleet.key';
open(my $fh, '>', $keyfile) or die;
print $fh ('c3' x 32) . "\n";
close $fh;
chmod 0600, $keyfile;
$node->start;

my $db = 'postgres';
my $n = 200;

# Identifiers as the application writes them, and as phleet normalizes them.
# Classified columns get 555-7xx numbers, the control column 555-8xx ones.
my (@secret, @control);
for my $i (1 .. $n)
{
	my $d = sprintf('%04d', $i);
	push @secret, "+1 (555) 701-$d", "+1555701$d", "secret.person.$d\@example.org";
	push @control, "+1 (555) 801-$d", "+1555801$d", "control.person.$d\@example.org";
}

$node->safe_psql($db, q{
CREATE EXTENSION phleet CASCADE;
SELECT phleet.controller_create('acme');
CREATE TABLE leads (id int PRIMARY KEY, phone text, email text, note text);
CREATE TABLE control (id int PRIMARY KEY, phone text, email text);
SELECT phleet.govern('leads'), phleet.govern('control');
SELECT phleet.classify('leads', 'phone', 'communication', 'phone', reveal => true);
SELECT phleet.classify('leads', 'email', 'communication', 'email', reveal => true);
SELECT phleet.classify('leads', 'note', 'content');
CHECKPOINT;
});
my $start_lsn = $node->safe_psql($db, 'SELECT pg_current_wal_lsn()');

# every write path, for the classified table; plain inserts for the control
my $third = int($n / 3);
my $sql = "BEGIN;\nSELECT phleet.enter('acme') \\g /dev/null\n";
for my $i (1 .. $third)
{
	my $d = sprintf('%04d', $i);
	$sql .= "INSERT INTO leads VALUES ($i, '+1 (555) 701-$d', 'Secret.Person.$d\@Example.org', 'n');\n";
}
$sql .= "COPY leads (id, phone, email) FROM STDIN;\n";
for my $i ($third + 1 .. 2 * $third)
{
	my $d = sprintf('%04d', $i);
	$sql .= "$i\t+1 555 701 $d\tsecret.person.$d\@example.org\n";
}
$sql .= "\\.\n";
for my $i (2 * $third + 1 .. $n)
{
	my $d = sprintf('%04d', $i);
	if ($i % 3 == 0)
	{
		# insert a placeholder, then UPDATE it
		$sql .= "INSERT INTO leads (id) VALUES ($i);\n";
		$sql .= "UPDATE leads SET phone = '+1555701$d', email = 'secret.person.$d\@example.org' WHERE id = $i;\n";
	}
	elsif ($i % 3 == 1)
	{
		# INSERT ... ON CONFLICT DO UPDATE
		$sql .= "INSERT INTO leads (id) VALUES ($i);\n";
		$sql .= "INSERT INTO leads VALUES ($i, '+1555701$d', 'secret.person.$d\@example.org') "
		  . "ON CONFLICT (id) DO UPDATE SET phone = EXCLUDED.phone, email = EXCLUDED.email;\n";
	}
	else
	{
		$sql .= "MERGE INTO leads t USING (VALUES ($i, '+1555701$d', 'secret.person.$d\@example.org')) "
		  . "s(id, phone, email) ON t.id = s.id WHEN NOT MATCHED THEN INSERT (id, phone, email) "
		  . "VALUES (s.id, s.phone, s.email);\n";
	}
}
for my $i (1 .. $n)
{
	my $d = sprintf('%04d', $i);
	$sql .= "INSERT INTO control VALUES ($i, '+1 (555) 801-$d', 'control.person.$d\@example.org');\n";
}
$sql .= "COMMIT;\n";
$node->safe_psql($db, $sql);

is($node->safe_psql($db, q{
	SELECT count(*) FROM leads WHERE phleet.is_pseudonym(phone) AND phleet.is_pseudonym(email)}),
	$n, 'every classified value is a pseudonym');
is($node->safe_psql($db, q{SELECT count(*) FROM phleet.vault}), 2 * $n,
	'the vault holds every identifier, encrypted');

$node->safe_psql($db, 'CHECKPOINT');
my $end_lsn = $node->safe_psql($db, 'SELECT pg_current_wal_lsn()');

# The data files of the database, and the WAL segments from start to end.
my $dboid = $node->safe_psql($db, "SELECT oid FROM pg_database WHERE datname = '$db'");
my @datafiles;
find(sub { push @datafiles, $File::Find::name if -f $_ },
	$node->data_dir . "/base/$dboid", $node->data_dir . '/global');
my $first_seg = $node->safe_psql($db, "SELECT pg_walfile_name('$start_lsn')");
my $last_seg = $node->safe_psql($db, "SELECT pg_walfile_name('$end_lsn')");
my $waldir = $node->data_dir . '/pg_wal';
opendir(my $dh, $waldir) or die;
my @walfiles = map { "$waldir/$_" }
  grep { /^[0-9A-F]{24}$/ && $_ ge $first_seg && $_ le $last_seg } sort readdir($dh);
closedir $dh;
ok(@walfiles >= 1, 'WAL segments of the writes found: ' . scalar(@walfiles));

# pg_waldump confirms the range holds the writes to both tables and the vault
my $bindir = $node->config_data('--bindir');
my $dump = `$bindir/pg_waldump -p $waldir -s $start_lsn -e $end_lsn 2>&1`;
for my $rel ('leads', 'control', 'phleet.vault')
{
	my $filenode = $node->safe_psql($db, "SELECT pg_relation_filenode('$rel')");
	like($dump, qr/desc: (INSERT|MULTI_INSERT|HOT_UPDATE|UPDATE).*\n?.*rel \d+\/$dboid\/$filenode/,
		"pg_waldump shows writes to $rel in the searched range");
}

sub slurp
{
	my ($path) = @_;
	open(my $in, '<:raw', $path) or return '';
	local $/;
	my $c = <$in>;
	close $in;
	return $c;
}

# Which of the needles occur in which of the files.
sub occurrences
{
	my ($files, $needles) = @_;
	my %found;
	for my $f (@$files)
	{
		my $c = slurp($f);
		for my $needle (@$needles)
		{
			$found{$needle}++ if index($c, $needle) >= 0;
		}
	}
	return \%found;
}

# WAL records are split across WAL pages, each of which starts with a page
# header: search the WAL as one stream with the page headers cut out, so a
# value split by a page boundary is found too.
my $wal_block = $node->safe_psql($db, 'SHOW wal_block_size');
my $walstream = "$waldir/../wal_stream.bin";
open(my $ws, '>:raw', $walstream) or die;
for my $f (@walfiles)
{
	my $c = slurp($f);
	for (my $off = 0; $off < length($c); $off += $wal_block)
	{
		# long header (40 bytes) on a segment's first page, short (24) elsewhere
		my $hdr = $off == 0 ? 40 : 24;
		print $ws substr($c, $off + $hdr, $wal_block - $hdr);
	}
}
close $ws;
@walfiles = ($walstream);

my $raw_in_data = occurrences(\@datafiles, \@secret);
is(scalar(keys %$raw_in_data), 0, 'no raw identifier in any data file')
  or diag('found: ' . join(', ', (sort keys %$raw_in_data)[0 .. 4]));
my $raw_in_wal = occurrences(\@walfiles, \@secret);
is(scalar(keys %$raw_in_wal), 0, 'no raw identifier in the WAL')
  or diag('found: ' . join(', ', (sort keys %$raw_in_wal)[0 .. 4]));

# the control shows the search would have found them
my $ctl_in_data = occurrences(\@datafiles, [ grep { /^\+1 \(|^control/ } @control ]);
is(scalar(keys %$ctl_in_data), 2 * $n, 'the unclassified control values are found in the data files');
my $ctl_in_wal = occurrences(\@walfiles, [ grep { /^\+1 \(|^control/ } @control ]);
is(scalar(keys %$ctl_in_wal), 2 * $n, 'and in the WAL');

# crypto-shredding leaves no wrapped key in the data files either
my $wrapped = $node->safe_psql($db,
	"SELECT encode(wrapped_key, 'hex') FROM phleet.controller_keys WHERE controller = 'acme'");
my $keyfile_path = $node->data_dir . '/'
  . $node->safe_psql($db, "SELECT pg_relation_filepath('phleet.controller_keys')");
$node->safe_psql($db, 'CHECKPOINT');
ok(index(slurp($keyfile_path), pack('H*', $wrapped)) >= 0, 'the wrapped key is in the key table file');
# an older version of the key row, moved by pruning into the page's free
# space, is overwritten too (an UPDATE, as rewrap_keys() makes, then VACUUM)
$node->safe_psql($db, "UPDATE phleet.controller_keys SET rewrapped_at = now() WHERE controller = 'acme'");
$node->safe_psql($db, 'VACUUM phleet.controller_keys');
$node->safe_psql($db, 'CHECKPOINT');
ok(index(slurp($keyfile_path), pack('H*', $wrapped)) >= 0, 'the key table file holds the key before the forget');
my ($forget_seg, $forget_off) = split /\|/, $node->safe_psql($db,
	"SELECT file_name, file_offset FROM pg_walfile_name_offset(pg_current_wal_insert_lsn())");
$node->safe_psql($db, "SELECT phleet.controller_forget('acme')");
$node->safe_psql($db, 'CHECKPOINT');
ok(index(slurp($keyfile_path), pack('H*', $wrapped)) < 0,
	'after controller_forget the wrapped key is in no version of the row');
# nor any 16 bytes of it: a new tuple written over an old copy in the free
# space would hide a whole match, not the rest of the copy
my $keyfile_bytes = slurp($keyfile_path);
my $key_bytes = pack('H*', $wrapped);
my $pieces = grep { index($keyfile_bytes, substr($key_bytes, $_, 16)) >= 0 } 0 .. length($key_bytes) - 16;
is($pieces, 0, 'nor any 16 bytes of it, in the free space of the page either');
# nor in the WAL the forget wrote: the first change of the key table's page
# after the checkpoint above is a full-page image, taken after the key was
# overwritten (WAL written before the forget keeps the key: see the docs)
opendir($dh, $waldir) or die;
my $after = '';
for my $seg (grep { /^[0-9A-F]{24}$/ && $_ ge $forget_seg } sort readdir($dh))
{
	my $c = slurp("$waldir/$seg");
	my $from = $seg eq $forget_seg ? $forget_off - $forget_off % $wal_block : 0;
	for (my $off = $from; $off < length($c); $off += $wal_block)
	{
		my $hdr = $off == 0 ? 40 : 24;
		$after .= substr($c, $off + $hdr, $wal_block - $hdr);
	}
}
closedir $dh;
ok(length($after) > 0, 'WAL written by the forget found');
ok(index($after, pack('H*', $wrapped)) < 0, 'and the wrapped key is not in it');
is($node->safe_psql($db, "SELECT count(*) FROM phleet.vault WHERE controller = 'acme'"),
	'0', 'and the vault of the controller is empty');

$node->stop;
done_testing();
