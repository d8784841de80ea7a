"""The change layer, measured: echo threshold calibration and echo / realisation precision and recall on
labelled cross-wave pairs the rules were not built on, what the change records call new or dropped against
people's codes, and what the layer costs inside ``analyze``.

Parts (``--parts``, default all):

``echoes-nhs``   benchmarks/data/echoes/nhs_pairs.csv (301 NHS comment pairs, Trust B vs Trust C, sampled
                 equally from cosine bins 0.3-1.0): the threshold that maximises F0.5 (:data:`BETA`) on the
                 ``calibration`` split, re-weighted to each bin's candidate population (the one shipped), then precision / recall / F1 on the ``test`` split with a bootstrap interval, over the
                 sample and re-weighted to the candidate population of each bin; a TF-IDF cosine baseline
                 calibrated the same way beside it.
``interview``    benchmarks/data/echoes/interview_study.jsonl + interview_pairs.csv (a two-wave interview
                 study written for the project, every cross-wave pair within a theme labelled): the change
                 records run on the study's human themes; echo pairs and realisations (kind included)
                 against the gold pairs, with the shipped mode classifier, the rule baseline's modes, and
                 the gold modes (to separate mode errors from echo errors); TF-IDF echoes beside.
``nhs-run``      ``analyze`` (defaults, ``--runs 0``) on the 10,334 NHS comments with Trust C as the later
                 wave and Trusts A and B as the earlier: the change stage's seconds beside the whole run's,
                 and, per theme and human subcategory, whether the later quotes the records call *new* are
                 the subcategories whose share grew (Spearman correlation over theme x subcategory cells).

Writes benchmarks/results/changes.json (machine and CPU flags included).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, ROOT, machine, peak_rss, require, write_result  # noqa: E402

ECHO_DATA = ROOT / "benchmarks" / "data" / "echoes"
GRID = np.round(np.arange(0.30, 0.951, 0.025), 3)


#: the calibration criterion: F-beta with beta 0.5 (precision counts twice as much as recall: a sentence that
#: says a later quote "restates" an earlier one should usually be right)
BETA = 0.5


def _prf(pred: np.ndarray, gold: np.ndarray, w: np.ndarray | None = None,
         beta: float = 1.0) -> tuple[float, float, float]:
    w = np.ones(len(gold)) if w is None else w
    tp = float((w * (pred & gold)).sum())
    p = tp / float((w * pred).sum()) if pred.any() else float("nan")
    r = tp / float((w * gold).sum()) if gold.any() else float("nan")
    b2 = beta * beta
    f = (1 + b2) * p * r / (b2 * p + r) if (b2 * p + r) > 0 else 0.0
    return p, r, f


def _boot(pred, gold, w=None, n=2000, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n):
        i = rng.integers(0, len(gold), len(gold))
        stats.append(_prf(pred[i], gold[i], None if w is None else w[i]))
    arr = np.asarray(stats, dtype=float)
    lo, hi = np.nanpercentile(arr, [2.5, 97.5], axis=0)
    return {"precision_ci": [round(lo[0], 3), round(hi[0], 3)], "recall_ci": [round(lo[1], 3), round(hi[1], 3)],
            "f1_ci": [round(lo[2], 3), round(hi[2], 3)]}


def _calibrate(sim: np.ndarray, gold: np.ndarray, w=None) -> tuple[float, list[dict]]:
    """The threshold of the grid with the best F-beta (:data:`BETA`), and the whole curve."""
    curve = []
    for t in GRID:
        p, r, f = _prf(sim >= t, gold, w)
        fb = _prf(sim >= t, gold, w, beta=BETA)[2]
        curve.append({"threshold": float(t), "precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3),
                      "f_beta": round(fb, 3)})
    best = max(curve, key=lambda c: (c["f_beta"], c["threshold"]))
    return best["threshold"], curve


def _tfidf_cos(texts_a: list[str], texts_b: list[str], fit_on: list[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit(fit_on)
    a, b = vec.transform(texts_a), vec.transform(texts_b)
    return np.asarray(a.multiply(b).sum(axis=1)).ravel()


def echoes_nhs(embedder) -> dict:
    from make_echo_pairs import candidate_pairs, load_comments
    from stakeholder_nlp.change.echoes import ECHO_THRESHOLD

    pairs = pd.read_csv(ECHO_DATA / "nhs_pairs.csv")
    src = pd.read_csv(require(DATA / "nhs_fft_phase1" / "text_data.csv"), dtype=str, keep_default_na=False)
    text = dict(zip(src["row_index"].astype(int), src["feedback"], strict=True))
    ta = [text[i] for i in pairs["row_index_a"]]
    tb = [text[i] for i in pairs["row_index_b"]]
    va, vb = np.array(embedder.encode(ta, batch_size=64)), np.array(embedder.encode(tb, batch_size=64))
    va /= np.linalg.norm(va, axis=1, keepdims=True)
    vb /= np.linalg.norm(vb, axis=1, keepdims=True)
    sim = (va * vb).sum(1)
    gold = pairs["echo"].to_numpy(bool)
    # the candidate population of each cosine bin (the sample took 43 per bin): weights for population figures
    comments = load_comments(DATA / "nhs_fft_phase1" / "text_data.csv", 4, 400, 20261207)
    cand = candidate_pairs(comments, np.asarray(embedder.encode(comments["feedback"].tolist(), batch_size=64)))
    edges = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01]
    pop = np.histogram(cand["cosine"], bins=edges)[0]
    bin_of = np.clip(np.digitize(pairs["cosine"], edges) - 1, 0, len(pop) - 1)
    n_in_bin = np.bincount(bin_of, minlength=len(pop))
    weight = pop[bin_of] / np.maximum(n_in_bin[bin_of], 1)
    cal, test = (pairs["split"] == "calibration").to_numpy(), (pairs["split"] == "test").to_numpy()
    tf = _tfidf_cos(ta, tb, ta + tb)
    out = {"n_pairs": int(len(pairs)), "n_calibration": int(cal.sum()), "n_test": int(test.sum()),
           "positive_rate": round(float(gold.mean()), 3), "candidates_per_bin": pop.tolist(),
           "max_abs_cosine_diff_vs_file": round(float(np.abs(sim - pairs["cosine"]).max()), 4)}
    for name, s in (("embedding", sim), ("tfidf_baseline", tf)):
        t, curve = _calibrate(s[cal], gold[cal])
        tw, _ = _calibrate(s[cal], gold[cal], weight[cal])
        res = {"threshold_sample": t, "threshold_weighted": tw, "calibration_curve": curve}
        for label, thr in (("at_calibrated", t), ("at_weighted_calibrated", tw)) + (
                (("at_shipped", ECHO_THRESHOLD),) if name == "embedding" else ()):
            pred = s[test] >= thr
            p, r, f = _prf(pred, gold[test])
            pw, rw, fw = _prf(pred, gold[test], weight[test])
            res[label] = {"threshold": thr, "precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3),
                          **_boot(pred, gold[test]), "precision_weighted": round(pw, 3),
                          "recall_weighted": round(rw, 3), "f1_weighted": round(fw, 3)}
        out[name] = res
    return out


def _read_study():
    quotes = pd.read_json(require(ECHO_DATA / "interview_study.jsonl"), lines=True, dtype={"quote_id": str})
    gold = pd.read_csv(require(ECHO_DATA / "interview_pairs.csv"), dtype={"quote_id_a": str, "quote_id_b": str})
    return quotes, gold


def interview(embedder, threshold: float) -> dict:
    from stakeholder_nlp.change.mode import load_mode_classifier, rule_modes
    from stakeholder_nlp.change.records import describe_changes
    from stakeholder_nlp.sentiment import load_scorer

    quotes, gold = _read_study()
    texts = quotes["text"].tolist()
    x = np.array(embedder.encode(texts, batch_size=64))
    from stakeholder_nlp.sentiment.apply import score_corpus

    scored = score_corpus(load_scorer("default", embedder), quotes.assign(speaker=quotes["speaker"]))
    scores, labels = scored.scores, list(scored.labels)
    waves = quotes["wave"].tolist()
    order = sorted(set(waves))
    themes = sorted(quotes["theme"].unique())
    membership = pd.DataFrame({t: (quotes["theme"] == t).to_numpy() for t in themes})
    gold_modes = dict(zip(gold["quote_id_a"], gold["mode_a"], strict=False)) | dict(
        zip(gold["quote_id_b"], gold["mode_b"], strict=False))
    mode_sets = {"classifier": load_mode_classifier().predict(texts, x, model_id=embedder.model_id),
                 "rule_baseline": rule_modes(texts),
                 "gold": [gold_modes.get(q, "other") for q in quotes["quote_id"]]}
    g_echo = gold[gold["echo"] == 1]
    gold_pairs = set(zip(g_echo["quote_id_a"], g_echo["quote_id_b"], strict=True))
    gold_kind = {(a, b): k for a, b, k in zip(g_echo["quote_id_a"], g_echo["quote_id_b"], g_echo["kind"], strict=True)}
    b_with_echo = set(g_echo["quote_id_b"])
    g_real = g_echo[g_echo["kind"].isin(["came_true", "unmet", "met"])]
    b_with_real = set(g_real["quote_id_b"])
    out = {"n_quotes": len(quotes), "n_pairs": len(gold), "n_gold_echo_pairs": len(g_echo),
           "n_later_quotes_with_echo": len(b_with_echo), "n_gold_realisations": len(g_real),
           "threshold": threshold}
    acc = {}
    for name, modes in mode_sets.items():
        acc[name] = round(float(np.mean([m == gold_modes.get(q, "other")
                                         for m, q in zip(modes, quotes["quote_id"], strict=True)])), 3)
    out["mode_accuracy_on_study"] = acc
    for name, modes in mode_sets.items():
        res = describe_changes(quote_ids=quotes["quote_id"].tolist(), texts=texts, waves=waves,
                               speakers=quotes["speaker"].tolist(), membership=membership,
                               primary=quotes["theme"].tolist(), labels={t: t for t in themes}, embeddings=x,
                               scores=scores, sentiment_labels=labels, modes=modes, pairs=[(order[0], order[-1])],
                               threshold=threshold)
        e = res.echoes
        pred = set(zip(e["quote_id_a"], e["quote_id_b"], strict=True))
        hit = pred & gold_pairs
        prec = len(hit) / len(pred) if pred else float("nan")
        rec = len({b for _, b in hit}) / len(b_with_echo) if b_with_echo else float("nan")
        real = e[e["kind"] != "echo"]
        pred_real = {(a, b): k for a, b, k in zip(real["quote_id_a"], real["quote_id_b"], real["kind"], strict=True)}
        right = [p for p, k in pred_real.items() if gold_kind.get(p) == k]
        out[f"modes_{name}"] = {
            "echo_pairs_predicted": len(pred), "echo_precision": round(prec, 3), "echo_recall": round(rec, 3),
            "realisations_predicted": len(pred_real),
            "realisation_precision": round(len(right) / len(pred_real), 3) if pred_real else None,
            "realisation_recall": round(len({b for _, b in right}) / len(b_with_real), 3) if b_with_real else None,
            "categories": dict(zip(res.changes["theme_id"], res.changes["categories"], strict=True))}
    # the kind rule alone, on the gold echo pairs (pairing errors left out)
    from stakeholder_nlp.change.echoes import realisation_kind

    pos = {q: i for i, q in enumerate(quotes["quote_id"])}
    for name, modes in mode_sets.items():
        kinds = [realisation_kind(modes[pos[a]], modes[pos[b]], float(scores[pos[a]]), float(scores[pos[b]]))
                 for a, b in zip(g_echo["quote_id_a"], g_echo["quote_id_b"], strict=True)]
        out[f"modes_{name}"]["kind_accuracy_on_gold_pairs"] = round(float(np.mean(
            [k == g for k, g in zip(kinds, g_echo["kind"], strict=True)])), 3)
    # the simplest baseline for the echoes: the same best-match rule on TF-IDF cosine, its threshold calibrated
    # on the NHS pairs the same way (F0.5, population-weighted)
    from sklearn.feature_extraction.text import TfidfVectorizer

    nhs = json.loads((ROOT / "benchmarks" / "results" / "changes.json").read_text())["results"].get("echoes-nhs", {})
    t_tf = nhs.get("tfidf_baseline", {}).get("threshold_weighted", 0.325)
    v = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(texts)
    pred = set()
    for _theme, grp in quotes.groupby("theme"):
        ia = [pos[x] for x in grp.loc[grp["wave"] == order[0], "quote_id"]]
        ib = [pos[x] for x in grp.loc[grp["wave"] == order[-1], "quote_id"]]
        if not ia or not ib:
            continue
        sims = (v[ib] @ v[ia].T).toarray()
        for k, j in enumerate(sims.argmax(1)):
            if sims[k, j] >= t_tf:
                pred.add((quotes["quote_id"].iat[ia[j]], quotes["quote_id"].iat[ib[k]]))
    hit = pred & gold_pairs
    out["tfidf_baseline"] = {"threshold": t_tf, "echo_pairs_predicted": len(pred),
                             "echo_precision": round(len(hit) / len(pred), 3) if pred else None,
                             "echo_recall": round(len({b for _, b in hit}) / len(b_with_echo), 3)}
    return out


def nhs_run(embedder) -> dict:
    from stakeholder_nlp.corpus import load_corpus
    from stakeholder_nlp.embedding import EmbeddingCache
    from stakeholder_nlp.pipeline import analyze

    src = pd.read_csv(require(DATA / "nhs_fft_phase1" / "text_data.csv"), dtype=str, keep_default_na=False)
    src = src[src["feedback"].str.strip() != ""]
    df = pd.DataFrame({"quote_id": "nhs" + src["row_index"], "text": src["feedback"],
                       "wave": np.where(src["organization"] == "Trust C", "2_trust_c", "1_trusts_a_b"),
                       "speaker": None, "subcategory": src["subcategory"]})
    corpus = load_corpus(df.reset_index(drop=True))
    with EmbeddingCache(ROOT / "models" / "cache") as cache, peak_rss() as mem:
        t = time.perf_counter()
        a = analyze(corpus, embedder, cache=cache, runs=0)
        wall = time.perf_counter() - t
    ch = a.changes
    q = a.corpus.quotes
    sub = dict(zip(df["quote_id"], df["subcategory"], strict=True))
    primary = a.themes.primary()
    new_b = set()
    echoed_a = set(ch.echoes["quote_id_a"]) if len(ch.echoes) else set()
    echoed_b = set(ch.echoes["quote_id_b"]) if len(ch.echoes) else set()
    rows = []
    for qid, w, p in zip(q["quote_id"], q["wave"], primary, strict=True):
        if not p:
            continue
        rows.append({"quote_id": qid, "wave": w, "theme": p, "sub": sub[qid],
                     "new": w == "2_trust_c" and qid not in echoed_b,
                     "dropped": w == "1_trusts_a_b" and qid not in echoed_a})
        if rows[-1]["new"]:
            new_b.add(qid)
    cells = pd.DataFrame(rows)
    from scipy.stats import spearmanr

    stats = []
    for (theme, s), g in cells.groupby(["theme", "sub"]):
        ga, gb = g[g["wave"] == "1_trusts_a_b"], g[g["wave"] == "2_trust_c"]
        na = (cells["theme"].eq(theme) & cells["wave"].eq("1_trusts_a_b")).sum()
        nb = (cells["theme"].eq(theme) & cells["wave"].eq("2_trust_c")).sum()
        if len(ga) + len(gb) < 20 or len(gb) < 5 or len(ga) < 5:
            continue
        growth = np.log((len(gb) + 0.5) / (nb + 1)) - np.log((len(ga) + 0.5) / (na + 1))
        stats.append({"theme": theme, "sub": s, "growth": growth, "new_rate": gb["new"].mean(),
                      "dropped_rate": ga["dropped"].mean(), "n": len(g)})
    st = pd.DataFrame(stats)
    rho_new = spearmanr(st["growth"], st["new_rate"]) if len(st) > 3 else None
    rho_drop = spearmanr(-st["growth"], st["dropped_rate"]) if len(st) > 3 else None
    timings = {k: round(v, 2) for k, v in a.timings.items()}
    return {"n_quotes": len(q), "wall_s": round(wall, 1), "peak_rss_mb": mem["peak_mb"], "timings_s": timings,
            "changes_share_of_total": round(a.timings.get("changes", 0.0) / sum(a.timings.values()), 4),
            "n_themes": len(a.themes.themes), "n_echoes": len(ch.echoes),
            "mode_notice": ch.config.get("mode_notice", ""),
            "mode_counts": {str(k): int(v) for k, v in ch.quotes["mode"].value_counts().items()},
            "echo_threshold": ch.threshold,
            "n_new": int(ch.changes["n_new"].sum()), "n_dropped": int(ch.changes["n_dropped"].sum()),
            "categories": dict(zip(ch.changes["label"], ch.changes["categories"], strict=True)),
            "sentences": ch.changes["sentence"].tolist()[:3],
            "cells": len(st),
            "spearman_growth_vs_new_rate": None if rho_new is None else [round(float(rho_new[0]), 3),
                                                                         round(float(rho_new[1]), 4)],
            "spearman_shrink_vs_dropped_rate": None if rho_drop is None else [round(float(rho_drop[0]), 3),
                                                                               round(float(rho_drop[1]), 4)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="echoes-nhs,interview,nhs-run")
    ap.add_argument("--threshold", type=float, default=None, help="echo threshold for the interview part "
                    "(default: the shipped ECHO_THRESHOLD)")
    args = ap.parse_args()
    from stakeholder_nlp.change.echoes import ECHO_THRESHOLD
    from stakeholder_nlp.embedding import load_embedder

    embedder = load_embedder("fast")
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    prev = ROOT / "benchmarks" / "results" / "changes.json"
    result = json.loads(prev.read_text()).get("results", {}) if prev.exists() else {}
    for part in parts:
        t = time.perf_counter()
        if part == "echoes-nhs":
            result[part] = echoes_nhs(embedder)
        elif part == "interview":
            result[part] = interview(embedder, args.threshold or ECHO_THRESHOLD)
        elif part == "nhs-run":
            result[part] = nhs_run(embedder)
        else:
            raise SystemExit(f"unknown part {part!r}")
        result[part]["seconds"] = round(time.perf_counter() - t, 1)
        print(part, json.dumps({k: v for k, v in result[part].items() if k != "calibration_curve"}, default=str)[:3000])
    result["shipped_threshold"] = ECHO_THRESHOLD
    print(write_result("changes", {"results": result, "embedder": embedder.model_id, "host": machine()["cpu"]}))


if __name__ == "__main__":
    main()
