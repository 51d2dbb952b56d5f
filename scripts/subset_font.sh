#!/usr/bin/env bash
# Makes rust/core/assets/fonts/DejaVuSans-subset.ttf, the font the static picture draws its text
# with (rust/core/src/formats/png/text.rs): DejaVu Sans from Debian's fonts-dejavu-core, cut to
# Latin (Basic, Latin-1, Extended-A and -B), Greek, Cyrillic, general punctuation, arrows,
# geometric shapes and the replacement character (92 KB instead of 760 KB), without hinting or
# layout tables (the picture does its own layout). The license (Bitstream Vera, DejaVu changes in
# the public domain) allows modified copies under a name without "Bitstream" or "Vera"; its notice
# is LICENSE-DejaVu.txt beside the font, and is embedded in the binary with it.
# Needs fontTools (pip install fonttools); run once, the result is committed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=${1:-/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf}
OUT="$ROOT/rust/core/assets/fonts/DejaVuSans-subset.ttf"
pyftsubset "$SRC" --output-file="$OUT" --no-hinting --desubroutinize --layout-features='' --name-IDs='*' \
  --drop-tables+=GDEF,GPOS,GSUB,MATH,FFTM \
  --unicodes="U+0020-007E,U+00A0-024F,U+0370-03FF,U+0400-04FF,U+2010-2027,U+2030-205E,U+2190-21FF,U+2212,U+25A0-25FF,U+FFFD"
ls -l "$OUT"
