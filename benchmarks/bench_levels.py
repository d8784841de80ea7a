"""Calibration of the per-wave intervals (one theme in one wave) by simulation (not a test).

The wave comparisons are calibrated in ``bench_inference.py``; this checks the levels the report prints
beside them: a theme's mean sentiment in a wave (``sentiment_levels``: ``mean_lo`` / ``mean_hi``) and a
share in a wave (a theme's prevalence, ``prevalence_levels``, and the share of negative / neutral / positive
quotes, ``sentiment_levels``: both use :func:`stakeholder_nlp.shift.inference.share_level_interval`).

Data: ``bench_inference.py``'s generator (speakers with 3-15 quotes each plus 10% unattributed quotes,
each its own cluster; speaker random effects), both waves at the same true value, each wave one replicate.
Designs: 6, 12 and 30 speakers per wave x within-speaker correlation none / moderate / strong; sentiment
as a normal score (bench_inference's: SD 0.5, ICC 0 / 0.2 / 0.5) and as a bounded, skewed score like the
scorer's (tanh of a normal latent with mean 0.4 and the same ICC: values on (-1, 1), true mean found by
Monte Carlo); shares at 5%, 20% and 50%. A cell voiced by fewer than 2 speakers gets no interval (the tool's
rule): coverage is over the replicates that get one, and the refusal rate is reported beside it.

Methods, same replicates: ``cr2`` (this release's sentiment levels: CR2 t, Bell-McCaffrey df, exchangeable
working model), ``bootstrap`` (the previous release's sentiment levels: percentile cluster bootstrap,
speakers resampled, ``B`` draws), ``rs_wilson`` (shares: Rao-Scott design-effect Wilson interval, BM df).
Goal as for the comparisons: coverage 93-97% in every cell.

Run: ``nice -n 15 .venv/bin/python benchmarks/bench_levels.py [REPS] [B] [COLS]`` -> ``results/levels.json``.
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import ICC_SD, SENT_ICC, mu_for, pop_share, structure  # noqa: E402
from common import write_result  # noqa: E402
from stakeholder_nlp.shift.bootstrap import bootstrap_means, cluster_totals, percentile_ci  # noqa: E402
from stakeholder_nlp.shift.inference import canonical_clusters, compact_ids, cr2_test, share_level_interval  # noqa: E402

ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
ARGS = [a for i, a in enumerate(sys.argv[1:]) if a != "--only" and (i == 0 or sys.argv[i] != "--only")]
REPS = int(ARGS[0]) if len(ARGS) > 0 else 2000
B = int(ARGS[1]) if len(ARGS) > 1 else 499
COLS = int(ARGS[2]) if len(ARGS) > 2 else 20
BOUNDED_MU = 0.4


@functools.cache
def bounded_truth(n: int = 4_000_000, seed: int = 99) -> float:
    z = np.random.default_rng(seed).normal(size=n)
    return float(np.tanh(BOUNDED_MU + z).mean())  # latent variance 1 whatever the ICC: the same marginal mean


def draw(rng, kind, idx, n_units, n, icc, prevalence, cols):
    u = rng.normal(size=(n_units, cols))[idx]
    e = rng.normal(size=(n, cols))
    if kind == "share":
        sd = ICC_SD[icc]
        return (rng.random((n, cols)) < 1 / (1 + np.exp(-(mu_for(prevalence, sd) + sd * u)))).astype(float)
    r = SENT_ICC[icc]
    latent = np.sqrt(r) * u + np.sqrt(1 - r) * e
    return 0.5 * latent if kind == "sentiment normal" else np.tanh(BOUNDED_MU + latent)


def korn_graubard(y, se, g, level=0.95):
    """Korn & Graubard (1998) Clopper-Pearson interval on the design-effective sample size, df-adjusted
    (R survey's ``svyciprop(method="beta")``), with the CR2 standard error and G - 1 df."""
    from scipy.stats import beta, norm, t

    m = y.mean(0)
    a = 1 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(se > 0, m * (1 - m) / se ** 2, len(y)) * (t.ppf(a / 2, g - 1) / norm.ppf(a / 2)) ** 2
        lo = np.where(m > 0, beta.ppf(a / 2, n_eff * m, n_eff * (1 - m) + 1), 0.0)
        hi = np.where(m < 1, beta.ppf(1 - a / 2, n_eff * m + 1, n_eff * (1 - m)), 1.0)
    return lo, hi


def logit_interval(y, se, df, level=0.95):
    """The CR2 standard error carried to the log-odds scale (delta method), t with ``df``, mapped back."""
    from scipy.stats import t

    m = y.mean(0)
    q = t.ppf(1 - (1 - level) / 2, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = np.log(m / (1 - m))
        half = q * se / (m * (1 - m))
        lo = np.where(m > 0, 1 / (1 + np.exp(-(centre - half))), 0.0)
        hi = np.where(m < 1, 1 / (1 + np.exp(-(centre + half))), 1.0)
    return lo, hi


def run_design(kind, speakers, icc, prevalence, seed):
    rng = np.random.default_rng(seed)
    if kind == "share":
        truth = pop_share(mu_for(prevalence, ICC_SD[icc]), ICC_SD[icc])
    else:
        truth = 0.0 if kind == "sentiment normal" else bounded_truth()
    reps = max(COLS, int(round(REPS * {6: 1.0, 12: 0.5, 30: 0.3}[speakers] / COLS)) * COLS)
    rows = {m: [] for m in (("rs_wilson", "korn_graubard", "logit") if kind == "share" else ("cr2", "bootstrap"))}
    done = 0
    while done < reps:
        wave, spk, idx, n_units = structure(rng, speakers, False)
        y_all = draw(rng, kind, idx, n_units, len(wave), icc, prevalence, COLS)
        for w in (0, 1):
            sel = wave == w
            y = y_all[sel]
            ids, g = canonical_clusters(spk[sel], y)
            if kind == "share":
                sums = np.zeros((g, COLS))
                np.add.at(sums, ids, y)
                ok = (sums > 0).sum(0) >= 2  # voiced by 2+ speakers
                res = share_level_interval(y, ids, g)
                rows["rs_wilson"] += [(lo, hi, o) for lo, hi, o in zip(res.lo, res.hi, ok, strict=True)]
                kg_lo, kg_hi = korn_graubard(y, res.se, g)
                rows["korn_graubard"] += [(lo, hi, o) for lo, hi, o in zip(kg_lo, kg_hi, ok, strict=True)]
                lg_lo, lg_hi = logit_interval(y, res.se, res.df if res.df is not None else g - 1)
                rows["logit"] += [(lo, hi, o) for lo, hi, o in zip(lg_lo, lg_hi, ok, strict=True)]
                continue
            res = cr2_test(y, ids, g, exchangeable=True)
            rows["cr2"] += [(max(lo, -1.0), min(hi, 1.0), True) for lo, hi in zip(res.lo, res.hi, strict=True)]
            cl, _ = compact_ids(ids)
            reps_b = bootstrap_means(cluster_totals(y, cl, np.zeros(len(y))), [0], n_boot=B, seed=seed + done)
            lo, hi = percentile_ci(reps_b[:, 0, :], 0.95)
            rows["bootstrap"] += [(a, b, True) for a, b in zip(lo, hi, strict=True)]
        done += COLS
    out = []
    for method, vals in rows.items():
        a = np.array(vals, dtype=float)
        lo, hi, ok = a[:, 0], a[:, 1], a[:, 2].astype(bool)
        has = ok & np.isfinite(lo) & np.isfinite(hi)
        cov = float(((lo <= truth) & (truth <= hi))[has].mean())
        out.append({"kind": kind, "speakers_per_wave": speakers, "icc": icc, "prevalence": prevalence,
                    "truth": truth, "method": method, "cells": len(a), "refused": float(1 - has.mean()),
                    "coverage": cov, "mc_se": float(np.sqrt(cov * (1 - cov) / max(has.sum(), 1))),
                    "below": float((hi < truth)[has].mean()), "above": float((lo > truth)[has].mean()),
                    "width": float(np.mean((hi - lo)[has]))})
    return out


def main() -> None:
    t0 = time.perf_counter()
    rows, seed = [], 500
    for kind in ("sentiment normal", "sentiment bounded", "share"):
        if ONLY is not None and not kind.startswith(ONLY):
            continue
        for speakers in (6, 12, 30):
            for icc in ("none", "moderate", "strong"):
                for prev in ((0.05, 0.2, 0.5) if kind == "share" else (np.nan,)):
                    seed += 1
                    rows += run_design(kind, speakers, icc, prev, seed)
                    print(f"{kind} {speakers} {icc} {prev}: {time.perf_counter() - t0:.0f}s", flush=True)
    table = pd.DataFrame(rows)
    summary = {}
    for method, m in table.groupby("method"):
        summary[method] = {"cells": len(m), "coverage_min": float(m["coverage"].min()),
                           "coverage_max": float(m["coverage"].max()),
                           "cells_in_93_97": int(m["coverage"].between(0.93, 0.97).sum())}
    summary["seconds"] = time.perf_counter() - t0
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(summary)
    path = write_result("levels" + (f"_{ONLY}" if ONLY else ""), {"reps_6_speakers": REPS, "n_boot": B, "cols": COLS, "summary": summary,
                                   "table": table.to_dict(orient="records")})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
