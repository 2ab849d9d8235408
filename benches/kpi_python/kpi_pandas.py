#!/usr/bin/env python3
"""performance_daily KPIs with pandas (vectorised; no per-group Python loops / apply).

    python kpi_pandas.py --input DIR --repeat 5 --out pandas.json [--dump pandas.csv]

Loading the columns and building the DataFrame is not timed; each timed repetition
runs the full computation (daily KPIs + ECE + 20/60 rolling) from that DataFrame.
See README.md for the KPI definitions.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    ECE_BINS, ECE_MIN_N_FIXED, KEYS, OUTPUT_COLS, SERIES_KEYS, WINDOWS,
    add_common_args, checksum_from_arrays, load_columns, time_reps, write_result,
)

# input columns summed per group (NaN skipped by groupby.sum: hit, persist_hit)
SUM_IN = ["hit", "brier", "log_loss", "covered", "width", "winkler", "nominal",
          "up_hit", "up_brier", "persist_hit", "persist_brier",
          "rw_covered", "rw_width", "rw_winkler"]


def pearson_from_sums(n, sx, sy, sxy, sxx, syy, degenerate):
    cov = sxy - sx * sy / n
    vx = sxx - sx * sx / n
    vy = syy - sy * sy / n
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(vx * vy)
    # null if n < 2 or either variance is 0 (decided exactly via min == max)
    return np.where(degenerate, np.nan, r)


def compute(df: pd.DataFrame) -> pd.DataFrame:
    g = df.groupby(KEYS, sort=True)
    gid = g.ngroup().to_numpy()                     # dense group number, sorted key order
    size = g.size()                                 # n per group, MultiIndex of the keys
    n = size.to_numpy()
    G = len(n)

    # average ranks of expected/realized return within each group (ties -> mean rank)
    ranks = g[["expected_return", "realized_return"]].rank(method="average")
    x = df["expected_return"].to_numpy()
    y = df["realized_return"].to_numpy()
    rx = ranks["expected_return"].to_numpy()
    ry = ranks["realized_return"].to_numpy()
    p = df["p_up"].to_numpy()
    yu = df["is_up"].to_numpy().astype(np.float64)

    # everything that needs a per-group sum / count / min / max, grouped once by gid
    cols = {c: df[c] for c in SUM_IN}
    cols.update(x=x, y=y, xy=x * y, xx=x * x, yy=y * y,
                rx=rx, ry=ry, rxy=rx * ry, rxx=rx * rx, ryy=ry * ry)
    w = pd.DataFrame({k: np.asarray(v) for k, v in cols.items()}, copy=False)
    gw = w.groupby(gid, sort=True)
    s = gw.sum()
    cnt = gw[["hit", "persist_hit"]].count()
    mn = gw[["x", "y"]].min()
    mx = gw[["x", "y"]].max()

    # ---- ECE ---------------------------------------------------------------------
    # equal-width bins: sum_b |sum(p in b) - sum(is_up in b)| / n
    fbin = np.minimum(np.floor(p * ECE_BINS), ECE_BINS - 1).astype(np.int64)
    bs = pd.DataFrame({"p": p, "yu": yu}, copy=False).groupby(gid * ECE_BINS + fbin, sort=False).sum()
    ece_num = (bs["p"] - bs["yu"]).abs().groupby(bs.index.to_numpy() // ECE_BINS).sum()
    ece_num = ece_num.reindex(np.arange(G), fill_value=0.0).to_numpy(copy=True)
    # equal-count bins for groups with n < 100 (stable order by p_up)
    n_row = n[gid]
    small = n_row < ECE_MIN_N_FIXED
    if small.any():
        sg = gid[small]
        sp = p[small]
        sy_ = yu[small]
        sn = n_row[small]
        pos = (pd.Series(sp).groupby(sg).rank(method="first").to_numpy() - 1).astype(np.int64)
        k = np.minimum(ECE_BINS, sn)
        q = sn // k
        r = sn % k
        head = r * (q + 1)                          # rows in the first r (bigger) bins
        cbin = np.where(pos < head, pos // (q + 1), r + (pos - head) // np.maximum(q, 1))
        cs = pd.DataFrame({"p": sp, "yu": sy_}, copy=False).groupby(sg * ECE_BINS + cbin, sort=False).sum()
        small_num = (cs["p"] - cs["yu"]).abs().groupby(cs.index.to_numpy() // ECE_BINS).sum()
        ece_num[small_num.index.to_numpy()] = small_num.to_numpy()

    # ---- daily table -------------------------------------------------------------
    out = size.rename("n").reset_index()
    n_called = cnt["hit"].to_numpy()
    up_brier_sum = s["up_brier"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_brier = s["brier"].to_numpy() / n
        up_brier = up_brier_sum / n
        bss = np.where(up_brier_sum == 0, np.nan, 1.0 - mean_brier / up_brier)
        out["n_called"] = n_called
        out["hit_rate"] = s["hit"].to_numpy() / n_called          # 0/0 -> NaN (null)
        out["mean_brier"] = mean_brier
        out["bss"] = bss
        out["mean_log_loss"] = s["log_loss"].to_numpy() / n
        out["ece"] = ece_num / n
        out["picp"] = s["covered"].to_numpy() / n
        out["nominal"] = s["nominal"].to_numpy() / n
        out["mean_width"] = s["width"].to_numpy() / n
        out["mean_winkler"] = s["winkler"].to_numpy() / n
        out["up_hit_rate"] = s["up_hit"].to_numpy() / n
        out["up_brier"] = up_brier
        out["persist_hit_rate"] = s["persist_hit"].to_numpy() / cnt["persist_hit"].to_numpy()
        out["persist_brier"] = s["persist_brier"].to_numpy() / n
        out["rw_picp"] = s["rw_covered"].to_numpy() / n
        out["rw_width"] = s["rw_width"].to_numpy() / n
        out["rw_winkler"] = s["rw_winkler"].to_numpy() / n
        degenerate = (n < 2) | (mn["x"].to_numpy() == mx["x"].to_numpy()) | (mn["y"].to_numpy() == mx["y"].to_numpy())
        out["ic"] = pearson_from_sums(n, s["x"].to_numpy(), s["y"].to_numpy(), s["xy"].to_numpy(),
                                      s["xx"].to_numpy(), s["yy"].to_numpy(), degenerate)
        out["rank_ic"] = pearson_from_sums(n, s["rx"].to_numpy(), s["ry"].to_numpy(), s["rxy"].to_numpy(),
                                           s["rxx"].to_numpy(), s["ryy"].to_numpy(), degenerate)

    # ---- rolling over each (model, variant, horizon)'s dates (rows), min_periods=1 --
    sums = pd.DataFrame({
        "hit": s["hit"].to_numpy(), "n_called": n_called, "n": n.astype(np.float64),
        "brier": s["brier"].to_numpy(), "log_loss": s["log_loss"].to_numpy(),
        "winkler": s["winkler"].to_numpy(), "covered": s["covered"].to_numpy().astype(np.float64),
        "up_hit": s["up_hit"].to_numpy(), "up_brier": up_brier_sum, "ic": out["ic"].to_numpy(),
    })
    series = [out[k] for k in SERIES_KEYS]
    sum_cols = ["hit", "n_called", "n", "brier", "log_loss", "winkler", "covered", "up_hit", "up_brier"]
    rg = sums.groupby(series, sort=False)            # out is sorted by keys: each series is contiguous
    for W in WINDOWS:
        rs = rg[sum_cols].rolling(W, min_periods=1).sum().droplevel([0, 1, 2]).sort_index()
        ric = rg["ic"].rolling(W, min_periods=1).mean().droplevel([0, 1, 2]).sort_index()
        rn = rs["n"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"hit_rate_{W}"] = rs["hit"].to_numpy() / rs["n_called"].to_numpy()
            out[f"brier_{W}"] = rs["brier"].to_numpy() / rn
            out[f"log_loss_{W}"] = rs["log_loss"].to_numpy() / rn
            out[f"winkler_{W}"] = rs["winkler"].to_numpy() / rn
            out[f"picp_{W}"] = rs["covered"].to_numpy() / rn
            out[f"up_hit_rate_{W}"] = rs["up_hit"].to_numpy() / rn
            out[f"up_brier_{W}"] = rs["up_brier"].to_numpy() / rn
            out[f"ic_{W}"] = ric.to_numpy()
    return out[OUTPUT_COLS]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    a = ap.parse_args()

    rows, arrays = load_columns(a.input)                # not timed
    df = pd.DataFrame(arrays, copy=False)
    print(f"pandas {pd.__version__}: {rows} rows loaded; timing {a.repeat} repetition(s)", flush=True)

    secs, out = time_reps(lambda: compute(df), a.repeat)
    checksum = checksum_from_arrays({c: out[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in out.columns})
    if a.dump:
        out.to_csv(a.dump, index=False, float_format="%.17g")
    res = write_result(a.out, "pandas", pd.__version__, rows, len(out), secs, checksum,
                       extra={"numpy": np.__version__})
    print(f"pandas: groups={res['groups']} median={res['median_s']:.3f} s -> {a.out}")


if __name__ == "__main__":
    main()
