"""Shared bits of the KPI bench: input format, column list, checksum, result JSON.

Input DIR layout (written by the Rust bench and by gen.py):
    meta.json        {"rows": N, "columns": {"model_id": "i32", ...}}
    <column>.bin     raw little-endian values, no header, N of them
"""
from __future__ import annotations

import json
import math
import os
import statistics
import time

import numpy as np

# dtype strings used in meta.json -> numpy dtype (explicitly little-endian)
DTYPES = {"i32": "<i4", "f64": "<f8", "u8": "u1"}

# Every input column and its dtype, in the order gen.py writes them.
COLUMNS = {
    "model_id": "i32",
    "variant_id": "i32",
    "horizon": "i32",
    "date": "i32",
    "hit": "f64",
    "brier": "f64",
    "log_loss": "f64",
    "covered": "u8",
    "width": "f64",
    "winkler": "f64",
    "nominal": "f64",
    "p_up": "f64",
    "is_up": "u8",
    "expected_return": "f64",
    "realized_return": "f64",
    "up_hit": "f64",
    "up_brier": "f64",
    "persist_hit": "f64",
    "persist_brier": "f64",
    "rw_covered": "u8",
    "rw_width": "f64",
    "rw_winkler": "f64",
}

KEYS = ["model_id", "variant_id", "horizon", "date"]
SERIES_KEYS = ["model_id", "variant_id", "horizon"]
WINDOWS = (20, 60)
ECE_BINS = 10
ECE_MIN_N_FIXED = 100  # n >= this: 10 equal-width bins; else equal-count bins

# Output columns (after the 4 keys), in order.
DAILY_COLS = [
    "n", "n_called", "hit_rate", "mean_brier", "bss", "mean_log_loss", "ece",
    "picp", "nominal", "mean_width", "mean_winkler",
    "up_hit_rate", "up_brier", "persist_hit_rate", "persist_brier",
    "rw_picp", "rw_width", "rw_winkler", "ic", "rank_ic",
]
ROLL_BASE = ["hit_rate", "brier", "log_loss", "winkler", "picp", "up_hit_rate", "up_brier", "ic"]
ROLL_COLS = [f"{b}_{w}" for w in WINDOWS for b in ROLL_BASE]
OUTPUT_COLS = KEYS + DAILY_COLS + ROLL_COLS

CHECKSUM_COLS = ["n", "hit_rate", "mean_brier", "ece", "ic", "rank_ic", "hit_rate_20", "brier_60"]


def load_columns(input_dir: str) -> tuple[int, dict[str, np.ndarray]]:
    """Read meta.json and every <name>.bin as a numpy array (validates sizes/dtypes)."""
    with open(os.path.join(input_dir, "meta.json")) as f:
        meta = json.load(f)
    rows = int(meta["rows"])
    cols = meta["columns"]
    out: dict[str, np.ndarray] = {}
    for name, want in COLUMNS.items():
        if name not in cols:
            raise SystemExit(f"{input_dir}/meta.json: missing column {name!r}")
        if cols[name] != want:
            raise SystemExit(f"column {name!r}: dtype {cols[name]!r} in meta.json, expected {want!r}")
        path = os.path.join(input_dir, f"{name}.bin")
        arr = np.fromfile(path, dtype=DTYPES[want])
        if arr.shape[0] != rows:
            raise SystemExit(f"{path}: {arr.shape[0]} values, meta.json says {rows}")
        # native byte order (a no-op on little-endian machines)
        out[name] = arr.astype(arr.dtype.newbyteorder("="), copy=False)
    return rows, out


def checksum_from_arrays(arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """Sum of each checksum column over all output rows, nulls/NaN skipped (exact fsum)."""
    out = {}
    for c in CHECKSUM_COLS:
        a = np.asarray(arrays[c], dtype=np.float64)
        a = a[~np.isnan(a)]
        out[c] = math.fsum(a.tolist())
    return out


def time_reps(fn, repeat: int):
    """Run fn() `repeat` times; return (seconds list, last result)."""
    secs = []
    res = None
    for i in range(repeat):
        res = None  # drop the previous output before timing the next run
        t0 = time.perf_counter()
        res = fn()
        secs.append(time.perf_counter() - t0)
        print(f"  rep {i + 1}/{repeat}: {secs[-1]:.3f} s", flush=True)
    return secs, res


def write_result(path: str, engine: str, version: str, rows: int, groups: int,
                 secs: list[float], checksum: dict[str, float], extra: dict | None = None) -> dict:
    res = {
        "engine": engine,
        "version": version,
        "rows": rows,
        "groups": groups,
        "seconds": secs,
        "median_s": statistics.median(secs),
        "checksum": checksum,
    }
    if extra:
        res.update(extra)
    with open(path, "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    return res


def add_common_args(ap):
    ap.add_argument("--input", required=True, help="input DIR (meta.json + <col>.bin)")
    ap.add_argument("--repeat", type=int, default=5, help="timed repetitions (default 5)")
    ap.add_argument("--out", required=True, help="result JSON path")
    ap.add_argument("--dump", default=None,
                    help="optional: also write the full KPI table of the last repetition "
                         "to this CSV (not timed), for column-by-column comparison")
