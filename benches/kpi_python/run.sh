#!/usr/bin/env bash
# Run both Python engines on one input DIR and compare them.
#
#   bash benches/kpi_python/run.sh DIR [REPEAT] [OUTDIR]
#
# DIR: an input written by the Rust bench or gen.py (meta.json + <col>.bin).
# Writes OUTDIR/pandas.json and OUTDIR/polars.json (OUTDIR defaults to DIR),
# then prints the comparison; exits non-zero if the checksums disagree.
# Runs setup.sh first (a no-op when the venv is already in place).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${VENV:-$REPO/.venv-bench}"
DIR="${1:?usage: run.sh DIR [REPEAT] [OUTDIR]}"
REPEAT="${2:-5}"
OUT="${3:-$DIR}"
[[ -f "$DIR/meta.json" ]] || { echo "run.sh: $DIR/meta.json not found" >&2; exit 1; }
mkdir -p "$OUT"
VENV="$VENV" bash "$HERE/setup.sh" >/dev/null
PY="$VENV/bin/python"
"$PY" "$HERE/kpi_pandas.py" --input "$DIR" --repeat "$REPEAT" --out "$OUT/pandas.json"
"$PY" "$HERE/kpi_polars.py" --input "$DIR" --repeat "$REPEAT" --out "$OUT/polars.json"
"$PY" "$HERE/compare.py" "$OUT/pandas.json" "$OUT/polars.json"
