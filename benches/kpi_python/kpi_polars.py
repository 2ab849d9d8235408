#!/usr/bin/env python3
"""performance_daily KPIs with Polars from Python (lazy API, one collect per repetition).

    python kpi_polars.py --input DIR --repeat 5 --out polars.json [--dump polars.csv]

Loading the columns into an in-memory DataFrame is not timed; each timed repetition
builds the lazy query from `df.lazy()` and collects the full computation (daily KPIs +
ECE + 20/60 rolling).  Uses all cores Polars sees (POLARS_MAX_THREADS to change).
See README.md for the KPI definitions.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import polars as pl

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    ECE_BINS, ECE_MIN_N_FIXED, KEYS, OUTPUT_COLS, SERIES_KEYS, WINDOWS,
    add_common_args, checksum_from_arrays, load_columns, time_reps, write_result,
)

# input columns whose per-group sums feed means and the rolling windows
SUM_IN = ["brier", "log_loss", "covered", "width", "winkler", "nominal",
          "up_hit", "up_brier", "persist_brier", "rw_covered", "rw_width", "rw_winkler"]


def ece_numerator(rows: pl.LazyFrame, bin_expr: pl.Expr, name: str) -> pl.LazyFrame:
    """Per group: sum over bins of |sum(p_up in bin) - sum(is_up in bin)|."""
    return (
        rows.with_columns(bin=bin_expr)
        .group_by(*KEYS, "bin")
        .agg(d=pl.col("p_up").sum() - pl.col("is_up").sum())
        .group_by(KEYS)
        .agg(pl.col("d").abs().sum().alias(name))
    )


def build(lf: pl.LazyFrame) -> pl.LazyFrame:
    x, y = pl.col("expected_return"), pl.col("realized_return")
    base = lf.with_columns(
        pl.col("hit", "persist_hit").fill_nan(None),    # NaN = no call -> null (skipped)
        pl.col("is_up").cast(pl.Float64),
    )

    daily = base.group_by(KEYS).agg(
        n=pl.len(),
        n_called=pl.col("hit").count(),
        hit_sum=pl.col("hit").sum(),
        persist_called=pl.col("persist_hit").count(),
        persist_sum=pl.col("persist_hit").sum(),
        *[pl.col(c).sum().alias(f"{c}_sum") for c in SUM_IN],
        ic=pl.corr(x, y),
        rank_ic=pl.corr(x, y, method="spearman"),       # Pearson of average ranks
        degenerate=(pl.len() < 2) | (x.min() == x.max()) | (y.min() == y.max()),
    )

    # ECE, n >= 100: 10 equal-width bins
    fixed = ece_numerator(
        base.select(*KEYS, "p_up", "is_up"),
        (pl.col("p_up") * ECE_BINS).floor().clip(upper_bound=ECE_BINS - 1).cast(pl.Int32),
        "ece_fixed",
    )
    # ECE, n < 100: equal-count bins over the stable p_up order
    n, k = pl.col("n").cast(pl.Int64), pl.col("k")
    q, r, pos = pl.col("q"), pl.col("r"), pl.col("pos")
    head = r * (q + 1)
    small_rows = (
        base.select(*KEYS, "p_up", "is_up")
        .with_columns(n=pl.len().over(KEYS))
        .filter(pl.col("n") < ECE_MIN_N_FIXED)
        .with_columns(
            pos=pl.col("p_up").rank("ordinal").over(KEYS).cast(pl.Int64) - 1,  # ties: input order
            k=pl.min_horizontal(n, pl.lit(ECE_BINS, pl.Int64)),
        )
        .with_columns(q=n // k, r=n % k)
    )
    small = ece_numerator(
        small_rows,
        pl.when(pos < head).then(pos // (q + 1)).otherwise(r + (pos - head) // q),
        "ece_small",
    )

    out = (
        daily.join(fixed, on=KEYS, how="left")
        .join(small, on=KEYS, how="left")
        .sort(KEYS)
        .with_columns(
            n=pl.col("n").cast(pl.Int64),
            n_called=pl.col("n_called").cast(pl.Int64),
            hit_rate=pl.col("hit_sum") / pl.col("n_called"),
            mean_brier=pl.col("brier_sum") / pl.col("n"),
            bss=pl.when(pl.col("up_brier_sum") == 0).then(None)
                  .otherwise(1 - pl.col("brier_sum") / pl.col("up_brier_sum")),
            mean_log_loss=pl.col("log_loss_sum") / pl.col("n"),
            ece=pl.when(pl.col("n") < ECE_MIN_N_FIXED).then(pl.col("ece_small"))
                  .otherwise(pl.col("ece_fixed")) / pl.col("n"),
            picp=pl.col("covered_sum") / pl.col("n"),
            nominal=pl.col("nominal_sum") / pl.col("n"),
            mean_width=pl.col("width_sum") / pl.col("n"),
            mean_winkler=pl.col("winkler_sum") / pl.col("n"),
            up_hit_rate=pl.col("up_hit_sum") / pl.col("n"),
            up_brier=pl.col("up_brier_sum") / pl.col("n"),
            persist_hit_rate=pl.col("persist_sum") / pl.col("persist_called"),
            persist_brier=pl.col("persist_brier_sum") / pl.col("n"),
            rw_picp=pl.col("rw_covered_sum") / pl.col("n"),
            rw_width=pl.col("rw_width_sum") / pl.col("n"),
            rw_winkler=pl.col("rw_winkler_sum") / pl.col("n"),
            ic=pl.when(pl.col("degenerate")).then(None).otherwise(pl.col("ic")),
            rank_ic=pl.when(pl.col("degenerate")).then(None).otherwise(pl.col("rank_ic")),
        )
    )

    def wsum(c: str, w: int) -> pl.Expr:
        return pl.col(c).rolling_sum(w, min_samples=1)

    rolling = []
    for w in WINDOWS:
        rolling += [
            (wsum("hit_sum", w) / wsum("n_called", w)).over(SERIES_KEYS).alias(f"hit_rate_{w}"),
            *[(wsum(f"{c}_sum", w) / wsum("n", w)).over(SERIES_KEYS).alias(f"{name}_{w}")
              for c, name in [("brier", "brier"), ("log_loss", "log_loss"), ("winkler", "winkler"),
                              ("covered", "picp"), ("up_hit", "up_hit_rate"), ("up_brier", "up_brier")]],
            pl.col("ic").rolling_mean(w, min_samples=1).over(SERIES_KEYS).alias(f"ic_{w}"),
        ]
    return (
        out.with_columns(rolling)
        .select(OUTPUT_COLS)
        .with_columns(pl.col(pl.Float64).fill_nan(None))   # 0/0 -> null
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    a = ap.parse_args()

    rows, arrays = load_columns(a.input)                # not timed
    df = pl.DataFrame(arrays)
    del arrays
    print(f"polars {pl.__version__}: {rows} rows loaded, {pl.thread_pool_size()} threads; "
          f"timing {a.repeat} repetition(s)", flush=True)

    secs, out = time_reps(lambda: build(df.lazy()).collect(), a.repeat)
    checksum = checksum_from_arrays({c: out[c].cast(pl.Float64).fill_null(np.nan).to_numpy() for c in out.columns})
    if a.dump:
        out.write_csv(a.dump, float_precision=17)
    res = write_result(a.out, "polars", pl.__version__, rows, out.height, secs, checksum,
                       extra={"threads": pl.thread_pool_size()})
    print(f"polars: groups={res['groups']} median={res['median_s']:.3f} s -> {a.out}")


if __name__ == "__main__":
    main()
