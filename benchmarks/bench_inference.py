"""Calibration of the between-wave intervals and tests by simulation (not a test).

Corpora with a known truth: speakers nested in two waves, 3-15 quotes each, plus unattributed quotes (10%
of the quotes, each its own cluster); a speaker's propensity varies around the wave's rate on the logit
scale (within-speaker correlation none / moderate / strong: SD 0 / 1 / 2, latent ICC 0 / 0.23 / 0.55);
theme prevalence 5%, 20%, 50%; sentiment (a continuous score, speaker ICC 0 / 0.2 / 0.5); and independent
comments (one per respondent, 5,000 per wave). Each design is simulated under no shift (type I error,
coverage of 0) and under a planted shift (power, coverage of the true difference).

Methods, in the same run on the same data:
- ``percentile``: the release before last: percentile cluster bootstrap (speakers resampled within wave) for
  the interval; logistic GEE, bias-reduced sandwich (speaker-level Fisher test under separation) for the
  share p-value; Gaussian GEE for sentiment. The GEE fits are slow, so its test (type I error,
  disagreement) is measured on ``GEE_REPS`` replicates of the 6-speaker null designs only; its interval
  (coverage, width) on every replicate.
- ``wcr``: the last release: restricted wild cluster bootstrap-t with Webb weights, interval by inverting
  the same test (:func:`stakeholder_nlp.shift.inference.wild_cluster_test`).
- ``new``: this release: for shares the Rao-Scott design-effect Miettinen-Nurminen score test with
  Bell-McCaffrey degrees of freedom, interval by inverting it
  (:func:`stakeholder_nlp.shift.inference.share_diff_test`); for sentiment the CR2 sandwich t test with
  Bell-McCaffrey degrees of freedom under an exchangeable working model (Imbens & Kolesar 2016), interval
  from the same t (:func:`stakeholder_nlp.shift.inference.cr2_test`, ``exchangeable=True``).
- ``cr2_bm`` (sentiment only): the same CR2 t with the Bell-McCaffrey df of a working model of independence.

Replicates are vectorised as columns: a block draws one set of speakers and quote counts and ``COLS``
independent outcomes on it. Replicates per design and hypothesis: ``REPS`` for 6 speakers per wave (the
designs near the limits), half as many for 12, 30% for 30 speakers, 20% for independent comments (at least
``COLS``); ``B`` bootstrap draws per replicate (default 499). The Monte Carlo standard error of a 95%
coverage is about 0.5 points at 2,000 replicates, 0.7 at 1,000 and 1.1 at 400 (a little more, because the
``COLS`` replicates of a block share one drawn design).
The designs and seeds differ from those the method was chosen on (exploratory runs, not kept).
Coverage is reported over every replicate and also over the replicates where both theme × wave cells are
estimable (voiced by 2+ speakers): the tool refuses to test a non-estimable cell, so the unconditional figure
counts such a refusal as "covered" whenever the interval of the raw difference happens to contain the truth.
Run: ``nice -n 15 .venv/bin/python benchmarks/bench_inference.py [REPS] [GEE_REPS] [B] [COLS] [--only KIND]``;
``--only sentiment`` (or ``share``, or ``independent``: the independent-comment designs) runs those designs alone (same seeds and data as in the full run; no percentile
method) and writes ``results/inference_sentiment.json``; ``--seed-offset N`` shifts every design's seed (fresh
data for a confirmation run; ``results/inference[_KIND]_seedN.json``).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result  # noqa: E402
from stakeholder_nlp.shift.bootstrap import bootstrap_means, cluster_ids, cluster_totals, percentile_ci  # noqa: E402
from stakeholder_nlp.shift.inference import canonical_clusters, cr2_test, share_diff_test, wild_cluster_test  # noqa: E402

ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
SEED_OFFSET = int(sys.argv[sys.argv.index("--seed-offset") + 1]) if "--seed-offset" in sys.argv else 0
_FLAGS = ("--only", "--seed-offset")
ARGS = [a for i, a in enumerate(sys.argv) if a not in _FLAGS and (i == 0 or sys.argv[i - 1] not in _FLAGS)]
REPS = int(ARGS[1]) if len(ARGS) > 1 and ARGS[1] != "scale" else 2000
COLS = int(ARGS[4]) if len(ARGS) > 4 else 20
GEE_REPS = int(ARGS[2]) if len(ARGS) > 2 else 20
B = int(ARGS[3]) if len(ARGS) > 3 else 499
ICC_SD = {"none": 0.0, "moderate": 1.0, "strong": 2.0}
SENT_ICC = {"none": 0.0, "moderate": 0.2, "strong": 0.5}
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(40)


def pop_share(mu: float, sd: float) -> float:
    return float((_GH_W * (1 / (1 + np.exp(-(mu + sd * _GH_X))))).sum() / _GH_W.sum())


def mu_for(p: float, sd: float) -> float:
    from scipy.optimize import brentq

    return brentq(lambda m: pop_share(m, sd) - p, -20, 20)


def structure(rng, speakers: int, independent: bool):
    """Rows: wave (0/1), speaker label (None: unattributed), speaker index (for random effects)."""
    waves, spk, idx = [], [], []
    k = 0
    for w in (0, 1):
        if independent:
            n = speakers
            waves += [w] * n
            spk += [f"{w}-{i}" for i in range(n)]
            idx += list(range(k, k + n))
            k += n
            continue
        counts = rng.integers(3, 16, size=speakers)
        for i, c in enumerate(counts):
            waves += [w] * c
            spk += [f"{w}-{i}"] * c
            idx += [k + i] * c
        k += speakers
        n_un = int(round(0.1 * counts.sum()))
        waves += [w] * n_un
        spk += [None] * n_un
        idx += list(range(k, k + n_un))  # each unattributed quote: its own speaker effect
        k += n_un
    return np.array(waves), np.array(spk, dtype=object), np.array(idx), k


def outcomes(rng, kind, wave, idx, n_units, *, mu, sd, cols):
    """``cols`` independent outcome columns on one structure."""
    u = rng.normal(size=(n_units, cols))[idx]
    if kind == "share":
        logit = np.where(wave[:, None] == 1, mu[1], mu[0]) + sd * u
        return (rng.random((len(wave), cols)) < 1 / (1 + np.exp(-logit))).astype(float)
    icc = sd
    e = rng.normal(size=(len(wave), cols))
    return np.where(wave[:, None] == 1, mu[1], mu[0]) + 0.5 * (np.sqrt(icc) * u + np.sqrt(1 - icc) * e)


def current_interval(y, wave, spk, seed):
    cl = cluster_ids(list(spk), wave)
    reps = bootstrap_means(cluster_totals(y, cl, wave), [0, 1], n_boot=B, seed=seed)
    return percentile_ci(reps[:, 1, :] - reps[:, 0, :], 0.95)


def current_p(y, wave, spk, kind):
    import statsmodels.api as sm
    from statsmodels.genmod.cov_struct import Exchangeable

    cl = cluster_ids(list(spk), wave)
    if kind == "share" and (y[wave == 0].sum() == 0 or y[wave == 1].sum() == 0 or y.sum() == len(y)):
        from scipy.stats import fisher_exact

        df = pd.DataFrame({"y": y, "x": wave, "g": cl}).groupby("g").agg(y=("y", "max"), x=("x", "first"))
        t = pd.crosstab(df["x"], df["y"]).reindex(index=[0, 1], columns=[0, 1], fill_value=0).to_numpy()
        return float(fisher_exact(t).pvalue)
    fam = sm.families.Binomial() if kind == "share" else sm.families.Gaussian()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = sm.GEE(y, sm.add_constant(wave.astype(float)), groups=cl, family=fam,
                         cov_struct=Exchangeable()).fit(cov_type="bias_reduced", maxiter=100)
            p = float(res.pvalues[1])
        except (ValueError, np.linalg.LinAlgError):
            p = np.nan
    return p


def reps_for(speakers: int) -> int:
    share = {6: 1.0, 12: 0.5, 30: 0.3}.get(speakers, 0.2)
    return max(COLS, int(round(REPS * share / COLS)) * COLS)


def voiced(y, wave, ids):
    """Per column: the fewest clusters voicing the theme in either wave (a cell is estimable at >= 2)."""
    out = np.full(y.shape[1], np.inf)
    for w in (0, 1):
        sel = wave == w
        g = np.unique(ids[sel], return_inverse=True)[1]
        sums = np.zeros((g.max() + 1, y.shape[1]))
        np.add.at(sums, g, y[sel])
        out = np.minimum(out, (sums > 0).sum(0))
    return out


def run_design(name, kind, speakers, icc, prevalence, independent, planted, seed):
    rng = np.random.default_rng(seed)
    if kind == "share":
        sd = ICC_SD[icc]
        p_b = prevalence + planted if planted else prevalence
        mu = (mu_for(prevalence, sd), mu_for(p_b, sd))
        truth = pop_share(mu[1], sd) - pop_share(mu[0], sd)
    else:
        sd = SENT_ICC[icc]
        mu = (0.0, planted)
        truth = planted
    rows = {"new": [], "wcr": [], "percentile": [], "cr2_bm": []}
    gee_design = speakers == 6 and not planted  # the GEE fits are slow: the 6-speaker null designs only
    reps = reps_for(speakers)
    done, block, gee_done = 0, 0, 0
    while done < reps:
        cols = min(COLS, reps - done)
        wave, spk, idx, n_units = structure(rng, speakers, independent)
        y = outcomes(rng, kind, wave, idx, n_units, mu=mu, sd=sd, cols=cols)
        ids, g = canonical_clusters(spk, np.column_stack([wave, y]))
        w = wild_cluster_test(y, ids, g, wave.astype(float), n_boot=B, seed=seed + block)
        if kind == "share":
            n = share_diff_test(y, ids, g, wave == 1)
        else:
            n = cr2_test(y, ids, g, wave.astype(float), exchangeable=True)
            bm = cr2_test(y, ids, g, wave.astype(float))
        cells = voiced(y, wave, ids) if kind == "share" else np.full(cols, np.inf)
        lo, hi = current_interval(y, wave, spk, seed + block) if ONLY is None else (np.full(cols, np.nan),) * 2
        for c in range(cols):
            rows["new"].append((n.lo[c], n.hi[c], n.p_value[c], cells[c]))
            rows["wcr"].append((w.lo[c], w.hi[c], w.p_value[c], cells[c]))
            if kind != "share":
                rows["cr2_bm"].append((bm.lo[c], bm.hi[c], bm.p_value[c], cells[c]))
            p_cur = np.nan
            if gee_done < GEE_REPS and gee_design:
                p_cur = current_p(y[:, c], wave, spk, kind)
                gee_done += 1
            rows["percentile"].append((lo[c], hi[c], p_cur, cells[c]))
        done += cols
        block += 1
    if ONLY is not None:
        del rows["percentile"]
    if kind == "share":
        del rows["cr2_bm"]
    out = []
    for method, vals in rows.items():
        a = np.array(vals, dtype=float)
        lo, hi, p, cells = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
        has_ci = np.isfinite(lo) & np.isfinite(hi)
        has_p = np.isfinite(p)
        covered = (lo <= truth) & (truth <= hi)
        estimable = cells >= 2
        cover = covered[has_ci].mean() if has_ci.any() else np.nan
        cover_est = covered[has_ci & estimable].mean() if (has_ci & estimable).any() else np.nan
        reject = np.where(has_p, p < 0.05, False)
        excl = (lo > 0) | (hi < 0)
        both = has_ci & has_p
        out.append({"design": name, "kind": kind, "speakers_per_wave": speakers, "icc": icc,
                    "prevalence": prevalence, "independent": independent, "planted": planted, "truth": truth,
                    "method": method, "reps": len(a), "reps_p": int(has_p.sum()),
                    "no_interval": float(1 - has_ci.mean()), "not_estimable": float(1 - estimable.mean()),
                    "coverage": float(cover), "coverage_estimable": float(cover_est),
                    "mc_se": float(np.sqrt(cover * (1 - cover) / max(has_ci.sum(), 1))),
                    "width": float(np.nanmean(np.where(has_ci, hi - lo, np.nan))),
                    "reject": float(reject[has_p].mean()) if has_p.any() else np.nan,
                    "disagree": float((excl[both] != (p[both] < 0.05)).mean()) if both.any() else np.nan})
    return out


def designs():
    seed = 100 + SEED_OFFSET
    for kind in ("share", "sentiment"):
        for speakers in (6, 12, 30):
            for icc in ("none", "moderate", "strong"):
                for prev in ((0.05, 0.2, 0.5) if kind == "share" else (np.nan,)):
                    planted = (0.15 if prev < 0.5 else 0.2) if kind == "share" else 0.3
                    for shift in (0.0, planted):
                        seed += 1
                        name = f"{kind} {speakers} spk, ICC {icc}" + (f", p {prev:.0%}" if kind == "share" else "")
                        yield name, kind, speakers, icc, prev, False, shift, seed
    for kind, prev, planted in (("share", 0.05, 0.015), ("share", 0.2, 0.03), ("share", 0.5, 0.03),
                                ("sentiment", np.nan, 0.03)):
        for shift in (0.0, planted):
            seed += 1
            name = "independent 5000/wave" + (f", p {prev:.0%}" if kind == "share" else ", sentiment")
            yield name, kind, 5000, "none", prev, True, shift, seed


def main() -> None:
    t0 = time.perf_counter()
    rows = []
    for args in designs():
        if ONLY is not None and args[1] != ONLY and not args[0].startswith(ONLY):
            continue
        t = time.perf_counter()
        rows += run_design(*args)
        print(f"{args[0]} shift={args[6]}: {time.perf_counter() - t:.1f}s", flush=True)
    table, summary = summarise(rows)
    summary["seconds"] = time.perf_counter() - t0
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(summary)
    name = "inference" + (f"_{ONLY}" if ONLY else "") + (f"_seed{SEED_OFFSET}" if SEED_OFFSET else "")
    path = write_result(name, {"seed_offset": SEED_OFFSET, "reps_6_speakers": REPS, "cols": COLS, "gee_reps": GEE_REPS, "n_boot": B,
                                      "summary": summary,
                                      "table": table.to_dict(orient="records"), "rows": rows})
    print(f"wrote {path}")


def summarise(rows: list[dict]) -> tuple[pd.DataFrame, dict]:
    """Per design and method: coverage under no shift and under the planted shift, width, type I error,
    power, interval/test disagreement (over the replicates that have both), not-estimable rates."""
    df = pd.DataFrame(rows)
    null = df[df["planted"] == 0].set_index(["design", "method"])
    alt = df[df["planted"] != 0].set_index(["design", "method"])
    table = pd.DataFrame({
        "coverage_null": null["coverage"], "coverage_shift": alt["coverage"], "width": null["width"],
        "type1": null["reject"], "power": alt["reject"],
        "disagree": pd.concat([null["disagree"], alt["disagree"]], axis=1).mean(axis=1),
        "no_interval": null["no_interval"], "not_estimable_null": null["not_estimable"],
        "not_estimable_shift": alt["not_estimable"], "coverage_estimable_null": null["coverage_estimable"],
        "coverage_estimable_shift": alt["coverage_estimable"],
        "reps": null["reps"],
    }).reset_index()
    order = list(dict.fromkeys(df["design"]))
    table["_o"] = table["design"].map({d: i for i, d in enumerate(order)})
    table = table.sort_values(["_o", "method"]).drop(columns="_o")
    summary = {}
    for method in ("new", "wcr", "percentile", "cr2_bm"):
        m = table[table["method"] == method]
        if m.empty:
            continue
        cov = m[["coverage_null", "coverage_shift"]].to_numpy().ravel()
        cov_est = m[["coverage_estimable_null", "coverage_estimable_shift"]].to_numpy().ravel()
        summary[method] = {"coverage_min": float(np.nanmin(cov)), "coverage_max": float(np.nanmax(cov)),
                           "cells_in_93_97": int(((cov >= 0.93) & (cov <= 0.97)).sum()), "cells": int(len(cov)),
                           "estimable_coverage_min": float(np.nanmin(cov_est)),
                           "estimable_coverage_max": float(np.nanmax(cov_est)),
                           "estimable_cells_in_93_97": int(((cov_est >= 0.93) & (cov_est <= 0.97)).sum()),
                           "type1_max": float(m["type1"].max()),
                           "designs_type1_over_6pct": int((m["type1"] > 0.06).sum()),
                           "disagree_max": float(m["disagree"].max())}
    return table, summary


def scale(n: int = 100_000, k: int = 40) -> None:
    """The shift stage at scale: n independent comments in two waves, k themes, 384-d embeddings, 10 strata
    (synthetic; the same calls the pipeline makes). ``bench_inference.py scale``. Wall and CPU seconds (CPU:
    all threads together; on a shared machine the wall time mostly measures the neighbours)."""
    from stakeholder_nlp.sentiment import sentiment_shift
    from stakeholder_nlp.shift import content_drift, prevalence_levels, prevalence_shift

    rng = np.random.default_rng(0)
    primary = rng.integers(0, k, n)
    member = np.zeros((n, k), bool)
    member[np.arange(n), primary] = True
    member |= rng.random((n, k)) < 0.02
    m = pd.DataFrame(member, columns=[f"t{i}" for i in range(k)])
    waves = np.where(rng.random(n) < 0.5, 2020, 2021).tolist()
    speakers = [f"r{i}" for i in range(n)]
    strata = pd.DataFrame({"site": rng.integers(0, 10, n).astype(str)})
    emb = rng.normal(size=(n, 384)).astype(np.float32)
    lemmas = [f"w{i % 50} w{i % 17} w{i % 7}" for i in range(n)]
    scores = np.tanh(rng.normal(size=n))
    timings, cpu = {}, {}
    for name, fn in (("prevalence_levels", lambda: prevalence_levels(m, waves, speakers, n_boot=2000)),
                     ("prevalence_shift (with strata)",
                      lambda: prevalence_shift(m, waves, speakers, strata=strata, n_boot=2000)),
                     ("sentiment_shift", lambda: sentiment_shift(m, scores, waves, speakers)),
                     ("content_drift", lambda: content_drift(m, emb, waves, speakers, lemmas))):
        t, c = time.perf_counter(), time.process_time()
        fn()
        timings[name], cpu[name] = time.perf_counter() - t, time.process_time() - c
        print(f"{name}: {timings[name]:.1f}s wall, {cpu[name]:.1f}s CPU", flush=True)
    timings["total"], cpu["total"] = sum(timings.values()), sum(cpu.values())
    path = write_result("inference_scale", {"n": n, "themes": k, "n_boot": 2000, "n_perm": 999,
                                            "seconds": timings, "cpu_seconds": cpu})
    print(timings, f"wrote {path}")


if __name__ == "__main__":
    scale() if sys.argv[1:2] == ["scale"] else main()
