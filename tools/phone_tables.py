#!/usr/bin/python3
"""Print the phone tables of src/normalize.c from Debian's python3-phonenumbers.

The tables are committed in src/normalize.c; this script only documents
where they came from and lets a maintainer diff them against a newer
libphonenumber release:

    /usr/bin/python3 tools/phone_tables.py > /tmp/t.c   # then compare by hand

Country calling codes are the ITU-T E.164 assigned codes in service (the set
libphonenumber knows; 379, 388 and 991 are assigned or reserved by the ITU
but carry no numbers).  Lengths are the national significant number lengths
of libphonenumber's general description, min over max across the code's
regions, with the overrides below; the caller caps the maximum at
15 - (digits of the code).
"""
import phonenumbers
from phonenumbers import PhoneMetadata

# NANP: always NPA-NXX-XXXX (the 7-digit local form needs an area code);
# Russia/Kazakhstan: 10 digits (libphonenumber's 14 covers rare legacy ranges);
# Mexico: 10 digits since 2019 (the old prefixes below are dropped);
# Belarus: 9 digits ("8 0XX ..." nationally) or 10 (toll free), so that trunk
# "80" is unambiguous and "8 801 ..." is refused rather than misread.
OVERRIDE = {1: (10, 10), 7: (10, 10), 52: (10, 10), 375: (9, 10)}
# Trunk prefixes as alternatives, longest first, from libphonenumber's
# national_prefix_for_parsing where its national_prefix tells only part of it.
TRUNK_OVERRIDE = {52: '044|045|01|02|1', 370: '8|0', 375: '80|0'}

iso = set(l.split('\t')[0] for l in open('/usr/share/zoneinfo/iso3166.tab')
          if not l.startswith('#'))

codes = []
countries = []
for cc, regions in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()):
    lens = set()
    trunks = set()
    for r in regions:
        if r == '001':
            m = PhoneMetadata.metadata_for_nongeo_region(cc)
        else:
            m = PhoneMetadata.metadata_for_region(r)
            countries.append((r, cc))
        lens |= set(m.general_desc.possible_length)
        trunks.add(m.national_prefix or '')
    assert len(trunks) == 1, (cc, trunks)
    lo, hi = OVERRIDE.get(cc, (min(lens), max(lens)))
    codes.append((cc, lo, hi, TRUNK_OVERRIDE.get(cc, trunks.pop())))

print('/* calling code, min and max national number length, trunk prefixes */')
print('static const PhoneCode phone_codes[] = {')
for cc, lo, hi, t in codes:
    print('\t{%d, %d, %d, "%s"},' % (cc, lo, hi, t))
print('};')
print()
print('/* ISO 3166 alpha-2 (plus AC, TA, XK) -> calling code, sorted by code */')
print('static const PhoneCountry phone_countries[] = {')
row = []
for r, cc in sorted(countries):
    row.append('{"%s", %d}' % (r, cc))
    if len(row) == 6:
        print('\t' + ', '.join(row) + ',')
        row = []
if row:
    print('\t' + ', '.join(row) + ',')
print('};')
print('/* not in ISO 3166-1:', sorted(r for r, _ in countries if r not in iso), '*/')
