#!/usr/bin/env python3
"""Write a synthetic scored-predictions input for the performance_daily KPI bench.

    python gen.py --rows 10000000 --out /tmp/kpi10m --seed 42 [--stocks 2000] [--shuffle]

Layout: 4 models x 2 variants x 2 horizons = 16 (model, variant, horizon) series,
business-day dates from 2020-01-02, ~2,000 (--stocks) stocks per (model, variant, horizon, date)
group, so dates ~= rows / 32,000.  Exactly --rows rows are written.

Edge cases deliberately present (so every KPI rule is exercised):
  * ~1% of (series, date) cells are missing (rolling windows count dates that
    have items, not calendar days);
  * ~2% of cells (at least 3 when there are enough) are small (n < 100, incl.
    n = 1 and n = 2) -> equal-count ECE bins, null ic for n < 2;
  * some small cells have a constant expected_return -> zero variance -> null ic;
  * p_up is rounded to 3 decimals -> ties (stable-sort rule for equal-count bins)
    and values exactly on bin edges (0.1, 0.3, 0.7 ...);
  * expected_return is rounded to 0.01 (percent) -> many ties for the average rank;
  * ~2% NaN hit (no call), ~1% NaN persist_hit; the n = 1 cell has both NaN
    (null hit_rate / persist_hit_rate).
Rows are written date-major (date, model, variant, horizon, stock), i.e. NOT in
output key order; --shuffle permutes all rows randomly instead.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import COLUMNS, DTYPES  # noqa: E402

MODELS = [1, 2, 3, 4]
VARIANTS = [0, 1]
HORIZONS = [1, 5]
STOCKS_PER_GROUP = 2000
START = dt.date(2020, 1, 2)


def business_days(n: int) -> np.ndarray:
    out = []
    d = START
    while len(out) < n:
        if d.weekday() < 5:
            out.append((d - dt.date(1970, 1, 1)).days)
        d += dt.timedelta(days=1)
    return np.asarray(out, dtype=np.int32)


def cell_sizes(rng: np.random.Generator, rows: int, stocks: int):
    """Return the (model, variant, horizon, date) cells and their row counts (sum == rows)."""
    series = [(m, v, h) for m in MODELS for v in VARIANTS for h in HORIZONS]
    per_date = len(series)
    n_dates = max(1, int(round(rows / (per_date * stocks))))
    dates = business_days(n_dates)
    # date-major cell order
    cells = np.array([(m, v, h, d) for d in dates for (m, v, h) in series], dtype=np.int64)
    n_cells = len(cells)
    # drop ~1% of cells (model not run that day), never all of them
    keep = rng.random(n_cells) >= 0.01
    if n_cells > 20 and keep.sum() > 0:
        cells = cells[keep]
    n_cells = len(cells)

    sizes = np.zeros(n_cells, dtype=np.int64)
    n_small = int(round(0.02 * n_cells))
    if n_cells >= 20:
        n_small = max(n_small, 3)
    n_small = min(n_small, n_cells - 1) if n_cells > 1 else 0
    small_idx = rng.choice(n_cells, size=n_small, replace=False) if n_small else np.array([], int)
    small_sizes = rng.integers(3, 100, size=n_small)
    if n_small >= 1:
        small_sizes[0] = 1
    if n_small >= 2:
        small_sizes[1] = 2
    # never let the small cells eat more than half the rows
    while n_small and small_sizes.sum() > rows // 2:
        small_sizes = np.maximum(1, small_sizes // 2)
        if small_sizes.sum() == n_small:
            break
    if n_small and small_sizes.sum() >= rows:  # tiny --rows: no small cells
        n_small, small_idx, small_sizes = 0, np.array([], int), small_sizes[:0]
    sizes[small_idx] = small_sizes

    large = np.ones(n_cells, dtype=bool)
    large[small_idx] = False
    rest = rows - int(sizes.sum())
    w = rng.uniform(0.9, 1.1, size=int(large.sum()))
    base = np.floor(w / w.sum() * rest).astype(np.int64)
    short = rest - int(base.sum())
    # each floor() loses < 1 row, so 0 <= short < number of large cells
    base[rng.choice(len(base), size=short, replace=False)] += 1
    sizes[large] = base
    assert int(sizes.sum()) == rows, (sizes.sum(), rows)
    const_x = np.zeros(n_cells, dtype=bool)
    if n_small:
        # some small cells get a constant expected_return (zero variance -> null ic)
        const_x[small_idx[rng.random(n_small) < 0.25]] = True
        const_x[small_idx[-1]] = n_small >= 3
    return cells, sizes, const_x


def generate(rows: int, seed: int, shuffle: bool, stocks: int = STOCKS_PER_GROUP) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cells, sizes, const_x = cell_sizes(rng, rows, stocks)
    cell_of_row = np.repeat(np.arange(len(cells)), sizes)
    model = cells[cell_of_row, 0].astype(np.int32)
    variant = cells[cell_of_row, 1].astype(np.int32)
    horizon = cells[cell_of_row, 2].astype(np.int32)
    date = cells[cell_of_row, 3].astype(np.int32)

    # returns (percent): realized ~ N(0.03, 2 * sqrt(horizon)); expected corr ~0.05 with it
    scale = np.sqrt(horizon.astype(np.float64))
    z_real = rng.standard_normal(rows)
    realized = 0.03 + 2.0 * scale * z_real
    rho = 0.05
    z_exp = rho * z_real + np.sqrt(1 - rho * rho) * rng.standard_normal(rows)
    expected = np.round(0.02 + 0.8 * scale * z_exp, 2)
    cx = const_x[cell_of_row]
    expected[cx] = 0.25
    is_up = (realized > 0).astype(np.uint8)

    # direction probability: Beta around 0.5, slightly informative, model-dependent sharpness
    sharp = 0.008 * model.astype(np.float64)
    p_up = rng.beta(6.0, 6.0, size=rows) + sharp * z_real + 0.03 * z_exp
    p_up = np.round(np.clip(p_up, 0.0, 1.0), 3)
    y = is_up.astype(np.float64)
    brier = (p_up - y) ** 2
    eps = 1e-6
    pc = np.clip(p_up, eps, 1 - eps)
    log_loss = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
    hit = ((p_up > 0.5).astype(np.uint8) == is_up).astype(np.float64)
    hit[(p_up == 0.5) | (rng.random(rows) < 0.02)] = np.nan
    single = sizes[cell_of_row] == 1          # the n = 1 cell made no call -> null hit_rate
    hit[single] = np.nan

    # prediction band around expected_return, nominal 0.8 (variant 0) / 0.9 (variant 1)
    nominal = np.where(variant == 0, 0.8, 0.9)
    zq = np.where(variant == 0, 1.2815515655446004, 1.6448536269514722)
    sigma = 2.0 * scale * np.exp(0.2 * rng.standard_normal(rows))
    half = zq * sigma
    lo, hi = expected - half, expected + half
    covered = ((realized >= lo) & (realized <= hi)).astype(np.uint8)
    width = hi - lo
    alpha = 1.0 - nominal
    winkler = width + (2 / alpha) * np.maximum(lo - realized, 0) + (2 / alpha) * np.maximum(realized - hi, 0)

    # baselines: always-up (p = 1), persistence (previous move's sign), random-walk band around 0
    up_hit = y.copy()
    up_brier = (1.0 - y) ** 2
    prev = 0.03 + 2.0 * scale * (0.02 * z_real + rng.standard_normal(rows))
    prev_up = (prev > 0).astype(np.float64)
    persist_hit = (prev_up == y).astype(np.float64)
    no_call = rng.random(rows) < 0.01
    no_call |= single
    persist_hit[no_call] = np.nan
    persist_p = np.where(no_call, 0.5, prev_up)
    persist_brier = (persist_p - y) ** 2
    rw_sigma = 2.0 * scale * np.exp(0.3 * rng.standard_normal(rows))
    rw_half = zq * rw_sigma
    rw_covered = (np.abs(realized) <= rw_half).astype(np.uint8)
    rw_width = 2 * rw_half
    rw_winkler = rw_width + (2 / alpha) * np.maximum(np.abs(realized) - rw_half, 0)

    cols = {
        "model_id": model, "variant_id": variant, "horizon": horizon, "date": date,
        "hit": hit, "brier": brier, "log_loss": log_loss, "covered": covered,
        "width": width, "winkler": winkler, "nominal": nominal,
        "p_up": p_up, "is_up": is_up,
        "expected_return": expected, "realized_return": realized,
        "up_hit": up_hit, "up_brier": up_brier, "persist_hit": persist_hit,
        "persist_brier": persist_brier, "rw_covered": rw_covered,
        "rw_width": rw_width, "rw_winkler": rw_winkler,
    }
    if shuffle:
        perm = rng.permutation(rows)
        cols = {k: v[perm] for k, v in cols.items()}
    return cols


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--out", required=True, help="output DIR (created)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--stocks", type=int, default=STOCKS_PER_GROUP,
                    help="target rows per (model, variant, horizon, date) group (default 2000); "
                         "smaller -> more dates, e.g. to exercise the 20/60 windows on small inputs")
    ap.add_argument("--shuffle", action="store_true", help="randomly permute all rows")
    a = ap.parse_args()
    if a.rows < 1:
        ap.error("--rows must be >= 1")
    cols = generate(a.rows, a.seed, a.shuffle, a.stocks)
    os.makedirs(a.out, exist_ok=True)
    for name, dtype in COLUMNS.items():
        arr = np.ascontiguousarray(cols[name], dtype=DTYPES[dtype])
        assert arr.shape[0] == a.rows
        arr.tofile(os.path.join(a.out, f"{name}.bin"))
    meta = {"rows": a.rows, "columns": dict(COLUMNS)}
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"wrote {a.rows} rows, {len(COLUMNS)} columns to {a.out}")


if __name__ == "__main__":
    main()
