#!/usr/bin/env python3
"""Compare KPI bench outputs across engines.

    python compare.py pandas.json polars.json [rust.json ...]     # checksums + timings
    python compare.py --csv pandas.csv polars.csv [...]           # full tables, cell by cell

Checksums agree when |a - b| <= rtol * max(|a|, |b|) + atol (defaults 1e-6 / 1e-9).
CSV tables must have the same shape/keys; nulls must be null in both.
Exit status 1 on any disagreement.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys


def close(a, b, rtol, atol):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= rtol * max(abs(a), abs(b)) + atol


def cmp_json(paths, rtol, atol) -> bool:
    res = [json.load(open(p)) for p in paths]
    ok = True
    print(f"{'engine':<10} {'version':<10} {'rows':>10} {'groups':>7} {'median_s':>9}  seconds")
    for r in res:
        secs = " ".join(f"{s:.3f}" for s in r["seconds"])
        print(f"{r['engine']:<10} {str(r['version']):<10} {r['rows']:>10} {r['groups']:>7} {r['median_s']:>9.3f}  [{secs}]")
    ref = res[0]
    for r in res[1:]:
        for f in ("rows", "groups"):
            if r[f] != ref[f]:
                print(f"MISMATCH {f}: {ref['engine']}={ref[f]} {r['engine']}={r[f]}")
                ok = False
    keys = list(ref["checksum"])
    print(f"\n{'checksum':<13}" + "".join(f"{r['engine']:>24}" for r in res) + "   max rel diff")
    for k in keys:
        vals = [r["checksum"].get(k) for r in res]
        rel = 0.0
        for v in vals[1:]:
            if not close(vals[0], v, rtol, atol):
                ok = False
            if v is not None and vals[0] is not None:
                rel = max(rel, abs(v - vals[0]) / max(abs(v), abs(vals[0]), 1e-300))
        flag = "" if all(close(vals[0], v, rtol, atol) for v in vals[1:]) else "  <-- MISMATCH"
        print(f"{k:<13}" + "".join(f"{v:>24.12f}" if v is not None else f"{'null':>24}" for v in vals)
              + f"   {rel:.1e}{flag}")
    if len(res) > 1:
        base = ref["median_s"]
        print("\nmedian relative to " + ref["engine"] + ": "
              + ", ".join(f"{r['engine']} {r['median_s'] / base:.2f}x" for r in res))
    return ok


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    cols = {h: [(None if (v == "" or v.lower() in ("nan", "null")) else float(v)) for v in col]
            for h, col in zip(head, zip(*body))} if body else {h: [] for h in head}
    return head, cols


def cmp_csv(paths, rtol, atol) -> bool:
    h0, c0 = read_csv(paths[0])
    ok = True
    for p in paths[1:]:
        h, c = read_csv(p)
        if h != h0:
            print(f"{p}: columns differ from {paths[0]}:\n  {h}\n  {h0}")
            ok = False
            continue
        if len(c[h[0]]) != len(c0[h0[0]]):
            print(f"{p}: {len(c[h[0]])} rows vs {len(c0[h0[0]])}")
            ok = False
            continue
        bad_cols = 0
        for col in h0:
            worst, nbad, first = 0.0, 0, None
            for i, (a, b) in enumerate(zip(c0[col], c[col])):
                if not close(a, b, rtol, atol):
                    nbad += 1
                    first = first if first is not None else (i, a, b)
                elif a is not None and b is not None and a != b:
                    worst = max(worst, abs(a - b) / max(abs(a), abs(b)))
            if nbad:
                bad_cols += 1
                ok = False
                i, a, b = first
                keys = ", ".join(f"{k}={c0[k][i]:g}" for k in h0[:4])
                print(f"  {col}: {nbad} cells differ; first at row {i} ({keys}): {a} vs {b}")
        print(f"{paths[0]} vs {p}: {len(c0[h0[0]])} rows x {len(h0)} cols, "
              f"{'all cells agree' if not bad_cols else f'{bad_cols} column(s) differ'} "
              f"(rtol {rtol:g}, atol {atol:g})")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--csv", action="store_true", help="compare --dump CSV tables instead of result JSONs")
    ap.add_argument("--rtol", type=float, default=1e-6)
    ap.add_argument("--atol", type=float, default=1e-9)
    a = ap.parse_args()
    ok = (cmp_csv if a.csv else cmp_json)(a.files, a.rtol, a.atol)
    print("OK" if ok else "DISAGREE")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
