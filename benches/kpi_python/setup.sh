#!/usr/bin/env bash
# Create (if missing) the bench venv and install the pinned numpy/pandas/polars.
# Idempotent: re-running only re-checks the pins. Fails loudly on any error.
#
#   bash benches/kpi_python/setup.sh
#
# Env overrides: PYTHON (default python3), VENV (default <repo>/.venv-bench).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-$REPO/.venv-bench}"
REQ="$HERE/requirements.txt"

die() { echo "setup.sh: ERROR: $*" >&2; exit 1; }
trap 'echo "setup.sh: FAILED (line $LINENO)" >&2' ERR

command -v "$PYTHON" >/dev/null 2>&1 || die "'$PYTHON' not found"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || die "need Python >= 3.11, got $("$PYTHON" -V 2>&1)"

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "setup.sh: creating venv at $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || die "venv creation failed (on Debian: apt-get install python3-venv)"
fi

VPY="$VENV/bin/python"
"$VPY" -m pip install --quiet --disable-pip-version-check -r "$REQ" \
    || die "pip install -r $REQ failed"

# Verify the pins actually took effect and the modules import.
"$VPY" - "$REQ" <<'PY'
import sys, importlib, importlib.metadata as md
bad = []
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    got = md.version(name)
    if got != want:
        bad.append(f"{name}: want {want}, got {got}")
    if name in ("numpy", "pandas", "polars"):
        importlib.import_module(name)
if bad:
    sys.exit("setup.sh: version mismatch: " + "; ".join(bad))
import numpy, pandas, polars
print(f"setup.sh: ok  numpy {numpy.__version__}  pandas {pandas.__version__}  polars {polars.__version__}")
PY
echo "setup.sh: venv ready: $VPY"
