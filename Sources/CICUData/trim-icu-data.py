#!/usr/bin/env python3
"""The ICU data the release binaries embed instead of the toolchain's (icudata.c).

Foundation links ICU with its whole data package: 34 MB, 40% of the agent's binary, for
every locale's names, collations, calendars, legacy encodings and word-break dictionaries.
Bridgeport prints what Docker prints, in English; it needs the root and English locales,
time zones, Unicode properties and normalisation. This keeps those and drops:
  - the resource bundles of every other locale (ICU falls back to en, then root),
  - legacy encoding converters (.cnv: Shift-JIS, EBCDIC, ...; UTF-8/16/32 and Latin-1
    need none), word-break dictionaries (.dict), StringPrep profiles (.spp), spoof
    checking (.cfu), and transliteration.

Usage: trim-icu-data.py ARCHIVE OUTDIR. ARCHIVE is the toolchain's lib_FoundationICU.a.
Writes OUTDIR/icudt.dat (a common-data package in ICU's "CmnD" format, items unchanged)
and OUTDIR/icudata.h naming the symbol ICU looks for (icudtNN_dat). Without a static ICU
in the toolchain it writes neither, and the binaries keep the full package.
"""
import os
import re
import struct
import subprocess
import sys
import tempfile

LOCALE = re.compile(r'^[a-z]{2,3}(_[A-Za-z0-9]+)*$')
KEPT_LOCALES = {'root', 'en', 'en_US', 'en_US_POSIX', 'pool'}  # pool: the bundles' shared strings
DROPPED_KINDS = {'cnv', 'dict', 'spp', 'cfu'}


def kept(name):
    """Whether the item (e.g. "icudt76l/zone/de.res") is kept."""
    parts = name.split('/')[1:]
    stem, _, kind = parts[-1].rpartition('.')
    if kind in DROPPED_KINDS or parts[0] == 'translit':
        return False
    return not (kind == 'res' and LOCALE.match(stem) and stem not in KEPT_LOCALES)


def items(package):
    """The package's header length and its items: (name, offset, length), in TOC order."""
    header_length, magic1, magic2 = struct.unpack_from('<HBB', package, 0)
    if (magic1, magic2) != (0xDA, 0x27) or package[12:16] != b'CmnD':
        sys.exit('not an ICU common data package')
    toc = header_length
    count, = struct.unpack_from('<I', package, toc)
    entries = [struct.unpack_from('<II', package, toc + 4 + 8 * i) for i in range(count)]
    result = []
    for i, (name_offset, data_offset) in enumerate(entries):
        start = toc + name_offset
        name = package[start:package.index(b'\0', start)].decode()
        end = entries[i + 1][1] if i + 1 < count else len(package) - toc
        result.append((name, toc + data_offset, end - data_offset))
    return header_length, result


def package_of(package, header_length, chosen):
    """A package of the chosen items, in the same order (ICU searches the TOC by bisection),
    each 16-byte aligned as in the original."""
    names = b''.join(name.encode() + b'\0' for name, _, _ in chosen)
    toc_length = 4 + 8 * len(chosen) + len(names)
    data_start = (header_length + toc_length + 15) // 16 * 16 - header_length
    toc, data = bytearray(struct.pack('<I', len(chosen))), bytearray()
    name_offset = 4 + 8 * len(chosen)
    for name, offset, length in chosen:
        toc += struct.pack('<II', name_offset, data_start + len(data))
        name_offset += len(name) + 1
        data += package[offset:offset + length]
        data += b'\0' * (-len(data) % 16)
    out = bytearray(package[:header_length]) + toc + names
    out += b'\0' * (header_length + data_start - len(out))
    return bytes(out + data)


def extract(archive, workdir):
    """The package's bytes and symbol, from the archive member that defines icudtNN_dat."""
    listing = subprocess.run(['nm', '-A', '--defined-only', archive], capture_output=True, text=True).stdout
    found = re.search(r':([^:\s]+\.o):\S*\s+\S+\s+(icudt\d+_dat)$', listing, re.M)
    if not found:
        return None, None
    member, symbol = found.groups()
    subprocess.run(['ar', 'x', archive, member], cwd=workdir, check=True)
    raw = os.path.join(workdir, 'icudt.dat')
    subprocess.run(['objcopy', '-O', 'binary', '--only-section=.rodata', os.path.join(workdir, member), raw], check=True)
    with open(raw, 'rb') as f:
        return f.read(), symbol


def main():
    archive, outdir = sys.argv[1:3]
    if not os.path.exists(archive):
        print(f'{archive}: no static ICU; the binaries keep the toolchain\'s data')
        return
    with tempfile.TemporaryDirectory() as workdir:
        package, symbol = extract(archive, workdir)
    if package is None:
        print(f'{archive}: no icudtNN_dat; the binaries keep the toolchain\'s data')
        return
    header_length, every = items(package)
    chosen = [item for item in every if kept(item[0])]
    trimmed = package_of(package, header_length, chosen)
    # The new package must list the same bytes for every item it keeps.
    _, check = items(trimmed)
    assert [(n, trimmed[o:o + l]) for n, o, l in check] == [(n, package[o:o + l]) for n, o, l in chosen]
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, 'icudt.dat'), 'wb') as f:
        f.write(trimmed)
    with open(os.path.join(outdir, 'icudata.h'), 'w') as f:
        f.write(f'#define BRIDGEPORT_ICU_DATA {symbol}\n')
    print(f'ICU data: {len(chosen)} of {len(every)} items, {len(trimmed):,} of {len(package):,} bytes ({symbol})')


main()
