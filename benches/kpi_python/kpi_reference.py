#!/usr/bin/env python3
"""Slow, literal reference of the performance_daily KPIs (NOT a benchmark engine).

    python kpi_reference.py --input DIR --out ref.json [--dump ref.csv]

One Python loop per group, written straight from the definitions in README.md, to
check that the fast engines (pandas, Polars, the Rust job) implement the spec and
not merely agree with each other.  Use on small inputs (<= ~1M rows).  Writes the
same result JSON as the engines (engine "reference", one untimed-ish repetition).
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    KEYS, OUTPUT_COLS, WINDOWS, checksum_from_arrays, load_columns, write_result,
)

NAN = float("nan")


def avg_rank(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    sv = v[order]
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and sv[j + 1] == sv[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1  # 1-based average rank
        i = j + 1
    return ranks


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2:
        return NAN
    da, db = a - a.mean(), b - b.mean()
    va, vb = (da * da).sum(), (db * db).sum()
    if a.min() == a.max() or b.min() == b.max():
        return NAN
    return float((da * db).sum() / np.sqrt(va * vb))


def ece(p: np.ndarray, y: np.ndarray) -> float:
    n = len(p)
    total = 0.0
    if n >= 100:
        b = np.minimum(np.floor(p * 10), 9).astype(int)
        for k in range(10):
            m = b == k
            if m.any():
                total += m.sum() * abs(p[m].mean() - y[m].mean())
    else:
        order = np.argsort(p, kind="stable")
        k = min(10, n)
        q, r = divmod(n, k)
        start = 0
        for bi in range(k):
            size = q + 1 if bi < r else q
            idx = order[start:start + size]
            total += size * abs(p[idx].mean() - y[idx].mean())
            start += size
    return total / n


def fmt(v) -> str:
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    return "" if np.isnan(v) else repr(v)


def mean_or_nan(v: np.ndarray) -> float:
    v = v[~np.isnan(v)]
    return float(v.mean()) if len(v) else NAN


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dump", default=None)
    a = ap.parse_args()
    rows, c = load_columns(a.input)
    t0 = time.perf_counter()
    keys = np.stack([c[k].astype(np.int64) for k in KEYS], axis=1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)   # sorted by the 4 keys
    inv = inv.ravel()
    order = np.argsort(inv, kind="stable")                       # keeps input order in a group
    bounds = np.searchsorted(inv[order], np.arange(len(uniq) + 1))
    f = {k: v.astype(np.float64) for k, v in c.items()}
    out = []
    for gi in range(len(uniq)):
        idx = order[bounds[gi]:bounds[gi + 1]]
        g = {k: v[idx] for k, v in f.items()}
        n = len(idx)
        hit = g["hit"][~np.isnan(g["hit"])]
        mb = g["brier"].mean()
        mub = g["up_brier"].mean()
        x, y = g["expected_return"], g["realized_return"]
        row = dict(zip(KEYS, map(int, uniq[gi])))
        row.update(
            n=n, n_called=len(hit), hit_rate=float(hit.mean()) if len(hit) else NAN,
            mean_brier=mb, bss=(1 - mb / mub) if mub != 0 else NAN,
            mean_log_loss=g["log_loss"].mean(), ece=ece(g["p_up"], g["is_up"]),
            picp=g["covered"].mean(), nominal=g["nominal"].mean(), mean_width=g["width"].mean(),
            mean_winkler=g["winkler"].mean(), up_hit_rate=g["up_hit"].mean(), up_brier=mub,
            persist_hit_rate=mean_or_nan(g["persist_hit"]), persist_brier=g["persist_brier"].mean(),
            rw_picp=g["rw_covered"].mean(), rw_width=g["rw_width"].mean(), rw_winkler=g["rw_winkler"].mean(),
            ic=pearson(x, y), rank_ic=pearson(avg_rank(x), avg_rank(y)),
            _hits=float(hit.sum()), _brier=g["brier"].sum(), _ll=g["log_loss"].sum(),
            _wk=g["winkler"].sum(), _cov=g["covered"].sum(), _uh=g["up_hit"].sum(), _ub=g["up_brier"].sum(),
        )
        out.append(row)
    # rolling: per (model, variant, horizon), over its rows in date order
    for i, row in enumerate(out):
        for W in WINDOWS:
            win = [r for r in out[max(0, i - W + 1):i + 1] if all(r[k] == row[k] for k in KEYS[:3])]
            sn = sum(r["n"] for r in win)
            sc = sum(r["n_called"] for r in win)
            row[f"hit_rate_{W}"] = sum(r["_hits"] for r in win) / sc if sc else NAN
            row[f"brier_{W}"] = sum(r["_brier"] for r in win) / sn
            row[f"log_loss_{W}"] = sum(r["_ll"] for r in win) / sn
            row[f"winkler_{W}"] = sum(r["_wk"] for r in win) / sn
            row[f"picp_{W}"] = sum(r["_cov"] for r in win) / sn
            row[f"up_hit_rate_{W}"] = sum(r["_uh"] for r in win) / sn
            row[f"up_brier_{W}"] = sum(r["_ub"] for r in win) / sn
            ics = [r["ic"] for r in win if not np.isnan(r["ic"])]
            row[f"ic_{W}"] = sum(ics) / len(ics) if ics else NAN
    secs = time.perf_counter() - t0
    arrays = {col: np.array([r[col] for r in out], dtype=np.float64) for col in OUTPUT_COLS}
    if a.dump:
        with open(a.dump, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(OUTPUT_COLS)
            for r in out:
                w.writerow([fmt(r[col]) for col in OUTPUT_COLS])
    write_result(a.out, "reference", "spec", rows, len(out), [secs], checksum_from_arrays(arrays))
    print(f"reference: {len(out)} groups in {secs:.1f} s -> {a.out}")


if __name__ == "__main__":
    main()
