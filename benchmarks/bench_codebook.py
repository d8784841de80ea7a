"""Codebook coding vs human coding: zero-shot and learned, against today's classifier and BERTopic's
zero-shot topic assignment, in one run.

    .venv/bin/python benchmarks/bench_codebook.py [--draws 20] [--nhs-draws 3]
    .venv/bin/python benchmarks/bench_codebook.py --fine-tune gp|nhs --first-draw 0 --draws 2 [--steps 200]
    .venv/bin/python benchmarks/bench_codebook.py --ceilings                 # -> results/codebook_ceilings.json
    .venv/bin/python benchmarks/bench_codebook.py --ceiling-fine-tune 3000   # -> results/codebook_ceiling_finetune.json

GP-cluster corpus (120 quotes): the table-row codes are the human coding (the shipped codebook's
``human_codes``). Zero-shot kappa per theme (95% speaker-bootstrap interval); learned kappa with 10%, 25%
and 50% of the speakers' quotes coded (``--draws`` random draws of speakers; kappa on the other speakers'
quotes only, beside the zero-shot kappa and the embedding-only learner on the same quotes; as the
mean of per-draw kappas and pooled over draws), and 5-fold speaker-grouped cross-validation with every quote
coded (what ``analyze --codes-col`` reports).
NHS FFT phase 1 (10,302 comments, 9 categories, exactly one per comment): benchmarks/nhs_fft_codebook.toml
(version 2, from the category names and the data set's subcategory definitions; version 1 beside it);
zero-shot kappa per category, and learned from 50 coded comments drawn from each category (450 coded; a
random sample of 450 beside it), kappa on the comments not coded; a supervised ceiling on a random half.
Beside ours: today's ``CodebookClassifier`` (max similarity, one threshold, within 0.02 of the best theme),
and BERTopic's zero-shot topic assignment (bertopic 0.17 ``_zeroshot_topic_modeling``: cosine of each
document to the embedded theme names, argmax, assigned when >= ``zeroshot_min_similarity``) with its default
0.7 and with the best value for each set (an oracle: chosen on the very quotes it is scored on).
All on the same embeddings (the project's cache). Writes benchmarks/results/codebook.json; there the
``learned*`` keys are the learner that also reads words (``ThemeCoder(text_features=True)``), the
``previous_learner*``/``*previous*`` keys the default, embedding-only learner, on the same draws.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, ROOT, require, write_result  # noqa: E402

GP_CODEBOOK = ROOT / "corpus" / "gp_clusters" / "codebook.toml"
NHS_CODEBOOK = ROOT / "benchmarks" / "nhs_fft_codebook.toml"


def embed(texts, embedder):
    from stakeholder_nlp.embedding import EmbeddingCache, embed_texts

    with EmbeddingCache(ROOT / "models" / "cache") as cache:
        return np.asarray(embed_texts(list(texts), embedder, cache=cache).vectors, dtype=np.float32)


def bertopic_zero_shot(x, names, embedder, min_similarity):
    """BERTopic's zero-shot assignment (single label; unassigned below ``min_similarity``)."""
    topics = embed(names, embedder)
    sims = x @ topics.T  # both L2-normalised: cosine similarity
    out = np.zeros(sims.shape, dtype=bool)
    ok = sims.max(axis=1) >= min_similarity
    out[np.flatnonzero(ok), sims.argmax(axis=1)[ok]] = True
    return out


def mean_kappa(h, m):
    from stakeholder_nlp.themes.crossval import kappa_columns

    return float(np.nanmean(kappa_columns(h, m)))


def bertopic_rows(h, x, book, embedder):
    from stakeholder_nlp.themes.crossval import kappa_columns

    names = [t.name for t in book.themes]
    default = bertopic_zero_shot(x, names, embedder, 0.7)
    grid = np.round(np.arange(0.0, 0.91, 0.01), 2)
    scores = [mean_kappa(h, bertopic_zero_shot(x, names, embedder, s)) for s in grid]
    best_s = float(grid[int(np.nanargmax(scores))])
    best = bertopic_zero_shot(x, names, embedder, best_s)
    return {"default_min_similarity": 0.7, "default_kappa": kappa_columns(h, default).tolist(),
            "default_mean": mean_kappa(h, default), "default_assigned_share": float(default.any(axis=1).mean()),
            "best_min_similarity": best_s, "best_kappa": kappa_columns(h, best).tolist(),
            "best_mean": mean_kappa(h, best)}


def today(h, x, book, embedder):
    from stakeholder_nlp.themes import CodebookClassifier
    from stakeholder_nlp.themes.crossval import kappa_columns

    m = CodebookClassifier(book, embedder).fit().indicator(x).to_numpy()
    return {"kappa": kappa_columns(h, m).tolist(), "mean": mean_kappa(h, m), "themes_per_quote": float(m.sum(1).mean())}


def codebook_v1():
    """The GP codebook as first shipped (commit 811885d), for the before/after breakdown; None if unavailable."""
    import subprocess

    from stakeholder_nlp.themes import parse_codebook

    r = subprocess.run(["git", "show", "811885d:corpus/gp_clusters/codebook.toml"], cwd=ROOT, capture_output=True,
                       text=True)
    return parse_codebook(r.stdout, path="codebook v1") if r.returncode == 0 else None


def gp(embedder, draws: int, seed: int) -> dict:
    from stakeholder_nlp.corpus import read_jsonl
    from stakeholder_nlp.themes import load_codebook
    from stakeholder_nlp.themes.coder import ThemeCoder, context_vectors
    from stakeholder_nlp.themes.crossval import (
        CROSS_VALIDATED,
        agreement_table,
        cross_validated_predictions,
        kappa_columns,
        speaker_groups,
    )

    corpus = read_jsonl(ROOT / "corpus" / "gp_clusters" / "quotes.jsonl")
    book = load_codebook(GP_CODEBOOK)
    texts = list(corpus.texts)
    x = embed(texts, embedder)
    from stakeholder_nlp.embedding import EmbeddingCache

    with EmbeddingCache(ROOT / "models" / "cache") as cache:
        ctx = context_vectors(corpus.contexts, embedder, cache=cache)
    phrases = embed(ThemeCoder(book, embedder).phrases(), embedder)
    h = book.human_matrix(corpus.quotes["codes"].tolist())
    groups = speaker_groups(corpus.quotes["speaker"].tolist())

    def coder(**kw):
        return ThemeCoder(book, embedder, phrase_vectors=phrases, random_state=seed, **kw)

    out = {"n": len(x), "themes": book.ids, "n_human": h.sum(0).tolist(),
           "n_with_context": int(sum(c is not None for c in corpus.contexts))}
    out["today"] = today(h, x, book, embedder)
    variants = {"zero_shot_no_context": (coder(context_weight=0.0), None), "zero_shot": (coder(), ctx)}
    for name, (c, cx) in variants.items():
        c.fit(x, context=cx)
        m = c.predict(x, context=cx).to_numpy()
        table = agreement_table(h, m, book, groups, evaluation="zero-shot", n_boot=2000, seed=seed)
        out[name] = {"kappa": table["kappa"].tolist(), "kappa_lo": table["kappa_lo"].tolist(),
                     "kappa_hi": table["kappa_hi"].tolist(), "mean": float(table["kappa"].mean()),
                     "human_prevalence": table["human_prevalence"].tolist(),
                     "machine_prevalence": table["machine_prevalence"].tolist(),
                     "themes_per_quote": float(m.sum(1).mean()), "uncoded_share": float((m.sum(1) == 0).mean())}
    v1 = codebook_v1()
    if v1 is not None:  # the codebook as shipped before this benchmark (examples only, no near-misses)
        z = ThemeCoder(v1, embedder, random_state=seed).fit(x, context=ctx)
        z0 = ThemeCoder(v1, embedder, random_state=seed, context_weight=0.0).fit(x)
        out["codebook_v1"] = {"today": today(h, x, v1, embedder),
                              "zero_shot_no_context": {"mean": mean_kappa(h, z0.predict(x).to_numpy())},
                              "zero_shot": {"mean": mean_kappa(h, z.predict(x, context=ctx).to_numpy())}}
    uniq = np.unique(groups)
    curve = {}
    for frac in (0.10, 0.25, 0.50):
        learned, prev, zero, n_coded, chosen, fit_s, prev_fit_s = [], [], [], [], [], [], []
        pooled = {"human": [], "learned": [], "previous": [], "zero": []}
        z = coder().fit(x, context=ctx)
        for r in range(draws):
            rng = np.random.default_rng(seed + r)
            coded = np.zeros(len(x), dtype=bool)
            for s in rng.permutation(uniq):
                if coded.mean() >= frac:
                    break
                coded |= groups == s
            y = np.where(coded[:, None], h, False)
            t = time.perf_counter()
            c = coder(text_features=True).fit(x, context=ctx, y=y, coded=coded, groups=groups, texts=texts)
            fit_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            p = coder(text_features=False).fit(x, context=ctx, y=y, coded=coded, groups=groups)  # the default
            prev_fit_s.append(time.perf_counter() - t)
            held_texts = [texts[i] for i in np.flatnonzero(~coded)]
            held = {"learned": c.predict(x[~coded], context=ctx[~coded], texts=held_texts).to_numpy(),
                    "previous": p.predict(x[~coded], context=ctx[~coded]).to_numpy(),
                    "zero": z.predict(x[~coded], context=ctx[~coded]).to_numpy()}
            learned.append(kappa_columns(h[~coded], held["learned"]))
            prev.append(kappa_columns(h[~coded], held["previous"]))
            zero.append(kappa_columns(h[~coded], held["zero"]))
            pooled["human"].append(h[~coded])
            for k, m in held.items():
                pooled[k].append(m)
            n_coded.append(int(coded.sum()))
            chosen.append((c.C_, c.text_scale_))
        learned, prev, zero = np.array(learned), np.array(prev), np.array(zero)
        ph = np.vstack(pooled["human"])
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            curve[f"{int(frac * 100)}%"] = {
                "draws": draws, "mean_quotes_coded": float(np.mean(n_coded)),
                "C_and_text_scale_chosen": {str(k): chosen.count(k) for k in sorted(set(chosen))},
                "fit_s_median": float(np.median(fit_s)), "previous_fit_s_median": float(np.median(prev_fit_s)),
                "learned_kappa": np.nanmean(learned, 0).tolist(), "learned_mean": float(np.nanmean(learned)),
                "learned_mean_sd_over_draws": float(np.nanstd(np.nanmean(learned, 1))),
                "previous_learner_mean": float(np.nanmean(prev)),
                "zero_shot_kappa_same_quotes": np.nanmean(zero, 0).tolist(), "zero_shot_mean_same_quotes":
                float(np.nanmean(zero)),
                # one kappa per theme over every draw's held-out quotes (a theme absent from one draw's
                # held-out quotes does not enter as 0 or NaN for that draw)
                "pooled_learned_kappa": kappa_columns(ph, np.vstack(pooled["learned"])).tolist(),
                "pooled_learned_mean": mean_kappa(ph, np.vstack(pooled["learned"])),
                "pooled_previous_mean": mean_kappa(ph, np.vstack(pooled["previous"])),
                "pooled_zero_shot_kappa": kappa_columns(ph, np.vstack(pooled["zero"])).tolist(),
                "pooled_zero_shot_mean": mean_kappa(ph, np.vstack(pooled["zero"]))}
    out["learned"] = curve
    cv = cross_validated_predictions(lambda: coder(), x, y=h, coded=np.ones(len(x), bool), groups=groups,
                                     context=ctx, n_splits=5, random_state=seed, texts=texts)
    table = agreement_table(h, cv.predictions.to_numpy(), book, groups, evaluation=CROSS_VALIDATED, n_boot=2000,
                            seed=seed)
    out["cv5_all_coded"] = {"kappa": table["kappa"].tolist(), "kappa_lo": table["kappa_lo"].tolist(),
                            "kappa_hi": table["kappa_hi"].tolist(), "mean": float(table["kappa"].mean())}
    mix = (x + 0.5 * ctx) / np.linalg.norm(x + 0.5 * ctx, axis=1, keepdims=True)
    out["bertopic_zero_shot"] = bertopic_rows(h, x, book, embedder)
    out["bertopic_zero_shot_with_context"] = bertopic_rows(h, mix, book, embedder)
    return out


def nhs_v1():
    """The NHS codebook version 1 (category names and one-line descriptions), from git history."""
    import subprocess

    from stakeholder_nlp.themes import parse_codebook

    r = subprocess.run(["git", "show", "960a681:benchmarks/nhs_fft_codebook.toml"], cwd=ROOT, capture_output=True,
                       text=True)
    return parse_codebook(r.stdout, path="nhs codebook v1") if r.returncode == 0 else None


def nhs(embedder, draws: int, seed: int, per_category: int = 50) -> dict:
    """Every comment carries exactly one category (checked below), so agreement is one-vs-rest kappa per
    category on the comments not coded. "50 coded per category" = 50 comments drawn at random from each
    category (450 coded in all), as the issue words it; a random sample of 450 comments (about 6 each of
    the two rarest categories) is shown beside it, and a supervised ceiling (multinomial logistic regression
    on the embeddings of a random half, scored on the other half) says what these embeddings support."""
    from sklearn.linear_model import LogisticRegression

    from stakeholder_nlp.themes import load_codebook
    from stakeholder_nlp.themes.coder import ThemeCoder
    from stakeholder_nlp.themes.crossval import kappa_columns

    df = pd.read_csv(require(DATA / "nhs_fft_phase1" / "text_data.csv"))
    df = df[df["feedback"].fillna("").str.strip() != ""].reset_index(drop=True)
    book = load_codebook(NHS_CODEBOOK)
    t = time.perf_counter()
    texts = df["feedback"].astype(str).tolist()
    x = embed(texts, embedder)
    embed_s = time.perf_counter() - t
    h = book.human_matrix([[c] for c in df["label"]])
    phrases = embed(ThemeCoder(book, embedder).phrases(), embedder)
    out = {"n": len(x), "themes": book.ids, "n_human": h.sum(0).tolist(), "embed_s": embed_s,
           "categories_per_comment": sorted({int(v) for v in h.sum(1)})}
    out["today"] = today(h, x, book, embedder)
    v1 = nhs_v1()
    if v1 is not None:
        m1 = ThemeCoder(v1, embedder).fit(x).predict(x).to_numpy()
        out["zero_shot_codebook_v1"] = {"kappa": kappa_columns(h, m1).tolist(), "mean": mean_kappa(h, m1),
                                        "machine_prevalence": m1.mean(0).tolist()}
    t = time.perf_counter()
    z = ThemeCoder(book, embedder, phrase_vectors=phrases).fit(x)
    m = z.predict(x).to_numpy()
    out["zero_shot"] = {"kappa": kappa_columns(h, m).tolist(), "mean": mean_kappa(h, m), "fit_predict_s":
                        time.perf_counter() - t, "themes_per_quote": float(m.sum(1).mean()),
                        "human_prevalence": h.mean(0).tolist(), "machine_prevalence": m.mean(0).tolist()}
    for design in ("per_category", "random"):
        learned, prev, zero, chosen, fit_s, prev_fit_s = [], [], [], [], [], []
        for r in range(draws):
            rng = np.random.default_rng(seed + r)
            coded = np.zeros(len(x), dtype=bool)
            if design == "per_category":
                for k in range(h.shape[1]):
                    idx = np.flatnonzero(h[:, k])
                    coded[rng.choice(idx, size=min(per_category, len(idx)), replace=False)] = True
            else:
                coded[rng.choice(len(x), size=per_category * h.shape[1], replace=False)] = True
            y = np.where(coded[:, None], h, False)
            t = time.perf_counter()
            c = ThemeCoder(book, embedder, phrase_vectors=phrases, text_features=True).fit(x, y=y, coded=coded,
                                                                                           texts=texts)
            fit_s.append(time.perf_counter() - t)
            t = time.perf_counter()  # the default learner (embedding only)
            p = ThemeCoder(book, embedder, phrase_vectors=phrases, text_features=False).fit(x, y=y, coded=coded)
            prev_fit_s.append(time.perf_counter() - t)
            held_texts = [texts[i] for i in np.flatnonzero(~coded)]
            learned.append(kappa_columns(h[~coded], c.predict(x[~coded], texts=held_texts).to_numpy()))
            prev.append(kappa_columns(h[~coded], p.predict(x[~coded]).to_numpy()))
            zero.append(kappa_columns(h[~coded], m[~coded]))
            chosen.append([c.C_, c.text_scale_])
        out["learned" if design == "per_category" else "learned_random_sample"] = {
            "design": design, "coded": int(coded.sum()), "draws": draws, "kappa": np.mean(learned, 0).tolist(),
            "mean": float(np.mean(learned)), "previous_learner_mean": float(np.mean(prev)),
            "previous_learner_kappa": np.mean(prev, 0).tolist(), "C_and_text_scale_chosen": chosen,
            "zero_shot_mean_same_quotes": float(np.mean(zero)), "fit_s": fit_s, "previous_fit_s": prev_fit_s}
    rng = np.random.default_rng(seed)
    half = rng.permutation(len(x))
    tr, te = half[: len(x) // 2], half[len(x) // 2:]
    lr = LogisticRegression(C=10.0, max_iter=3000).fit(x[tr], h[tr].argmax(1))
    sup = np.eye(h.shape[1], dtype=bool)[lr.predict(x[te])]
    out["supervised_ceiling"] = {"coded": len(tr), "kappa": kappa_columns(h[te], sup).tolist(),
                                 "mean": mean_kappa(h[te], sup), "model": "multinomial LogisticRegression C=10"}
    out["bertopic_zero_shot"] = bertopic_rows(h, x, book, embedder)
    return out


def kappa_from_counts(c: np.ndarray) -> np.ndarray:
    """Cohen's kappa per theme from summed (tp, fp, fn, tn) counts (theme × 4)."""
    tp, fp, fn, tn = (c[:, i].astype(np.float64) for i in range(4))
    n = tp + fp + fn + tn
    po = (tp + tn) / n
    pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / n**2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pe >= 1 - 1e-12, np.nan, (po - pe) / (1 - pe))


def counts(h: np.ndarray, m: np.ndarray) -> list:
    return np.stack([(h & m).sum(0), (~h & m).sum(0), (h & ~m).sum(0), (~h & ~m).sum(0)], axis=1).tolist()


def fine_tune_draws(embedder, which: str, first: int, draws: int, steps: int, seed: int) -> None:
    """The learned coder on an encoder fine-tuned to the coded quotes (themes.tuned.TunedFitter, the product
    code) beside the current learner and zero-shot, on the same draws as the main benchmark (GP: 50% of
    speakers coded; NHS: 50 coded per category), scored on the quotes not coded. Draws accumulate in
    benchmarks/results/codebook_finetune.json (one invocation per few draws: each fine-tune takes minutes)."""
    import json
    import os

    from stakeholder_nlp.corpus import read_jsonl
    from stakeholder_nlp.embedding import EmbeddingCache
    from stakeholder_nlp.themes import load_codebook
    from stakeholder_nlp.themes.coder import ThemeCoder, context_vectors
    from stakeholder_nlp.themes.crossval import kappa_columns, speaker_groups
    from stakeholder_nlp.themes.finetune import LowerStates
    from stakeholder_nlp.themes.tuned import TunedFitter

    if which == "gp":
        corpus = read_jsonl(ROOT / "corpus" / "gp_clusters" / "quotes.jsonl")
        book = load_codebook(GP_CODEBOOK)
        texts, contexts = list(corpus.texts), list(corpus.contexts)
        x = embed(texts, embedder)
        with EmbeddingCache(ROOT / "models" / "cache") as cache:
            ctx = context_vectors(contexts, embedder, cache=cache)
        h = book.human_matrix(corpus.quotes["codes"].tolist())
        groups = speaker_groups(corpus.quotes["speaker"].tolist())
    else:
        df = pd.read_csv(require(DATA / "nhs_fft_phase1" / "text_data.csv"))
        df = df[df["feedback"].fillna("").str.strip() != ""].reset_index(drop=True)
        book = load_codebook(NHS_CODEBOOK)
        texts, contexts, ctx = df["feedback"].astype(str).tolist(), None, None
        x = embed(texts, embedder)
        h = book.human_matrix([[c] for c in df["label"]])
        groups = None
    phrases = embed(ThemeCoder(book, embedder).phrases(), embedder)
    zero = ThemeCoder(book, embedder, phrase_vectors=phrases, random_state=seed).fit(x, context=ctx)
    states = LowerStates()
    t = time.perf_counter()
    states.get(texts + [c for c in (contexts or []) if c])
    states_s = time.perf_counter() - t
    fitter = TunedFitter(book, texts, contexts, steps=steps, states=states, seed=seed)
    path = ROOT / "benchmarks" / "results" / "codebook_finetune.json"
    res = json.loads(path.read_text()) if path.exists() else {"benchmark": "codebook_finetune"}
    part = res.setdefault(which, {"draws": {}})
    for r in range(first, first + draws):
        rng = np.random.default_rng(seed + r)
        coded = np.zeros(len(x), dtype=bool)
        if which == "gp":
            for s in rng.permutation(np.unique(groups)):
                if coded.mean() >= 0.5:
                    break
                coded |= groups == s
        else:
            for k in range(h.shape[1]):
                coded[rng.choice(np.flatnonzero(h[:, k]), size=50, replace=False)] = True
        y = np.where(coded[:, None], h, False)
        load = os.getloadavg()[0]
        t = time.perf_counter()
        fold = fitter(y, coded, groups)
        fit_s = time.perf_counter() - t
        held = ~coded
        tuned = fold.coder.predict(fold.x[held], context=None if fold.context is None else fold.context[held])
        # "current": the embedding-only learner these draws were first compared with (results accumulate)
        current = ThemeCoder(book, embedder, phrase_vectors=phrases, random_state=seed, text_features=False).fit(
            x, context=ctx, y=y, coded=coded, groups=groups)
        cx = None if ctx is None else ctx[held]
        preds = {"fine_tuned": tuned.to_numpy(), "current": current.predict(x[held], context=cx).to_numpy(),
                 "zero_shot": zero.predict(x[held], context=cx).to_numpy()}
        row = {"coded": int(coded.sum()), "fit_s": fit_s, "load_1min": load, "C_fine_tuned": fold.coder.C_,
               "C_current": current.C_, "final_loss": float(np.mean(fold.encoder.losses_[-20:]))}
        for k, m in preds.items():
            row[k] = {"kappa": kappa_columns(h[held], m).tolist(), "mean": mean_kappa(h[held], m),
                      "counts": counts(h[held], m)}
        part["draws"][str(r)] = row
        print(f"{which} draw {r}: fine-tuned {row['fine_tuned']['mean']:.3f} | current {row['current']['mean']:.3f} | "
              f"zero-shot {row['zero_shot']['mean']:.3f} | fit {fit_s:.0f}s (load {load:.1f})", flush=True)
    rows = list(part["draws"].values())
    summary = {"draws": len(rows), "steps": steps, "lower_states_s": states_s, "themes": book.ids,
               "fit_s": [r["fit_s"] for r in rows]}
    for k in ("fine_tuned", "current", "zero_shot"):
        pooled = kappa_from_counts(np.sum([np.array(r[k]["counts"]) for r in rows], axis=0))
        summary[k] = {"mean_of_draws": float(np.mean([r[k]["mean"] for r in rows])),
                      "pooled_kappa": pooled.tolist(), "pooled_mean": float(np.nanmean(pooled))}
    part["summary"] = summary
    from common import machine

    res.setdefault("runs", []).append({"part": which, "draws": [first, first + draws], "machine": machine()})
    path.write_text(json.dumps(res, indent=2, default=float) + "\n")
    print(which, {k: round(v["pooled_mean"], 3) for k, v in summary.items() if isinstance(v, dict)}, path)


def _gp_data(embedder):
    from stakeholder_nlp.corpus import read_jsonl
    from stakeholder_nlp.embedding import EmbeddingCache
    from stakeholder_nlp.themes import load_codebook
    from stakeholder_nlp.themes.coder import context_vectors
    from stakeholder_nlp.themes.crossval import speaker_groups

    corpus = read_jsonl(ROOT / "corpus" / "gp_clusters" / "quotes.jsonl")
    book = load_codebook(GP_CODEBOOK)
    texts = list(corpus.texts)
    with EmbeddingCache(ROOT / "models" / "cache") as cache:
        ctx = context_vectors(corpus.contexts, embedder, cache=cache)
    return (book, texts, embed(texts, embedder), ctx, book.human_matrix(corpus.quotes["codes"].tolist()),
            speaker_groups(corpus.quotes["speaker"].tolist()))


def _nhs_data(embedder):
    from stakeholder_nlp.themes import load_codebook

    df = pd.read_csv(require(DATA / "nhs_fft_phase1" / "text_data.csv"))
    df = df[df["feedback"].fillna("").str.strip() != ""].reset_index(drop=True)
    book = load_codebook(NHS_CODEBOOK)
    texts = df["feedback"].astype(str).tolist()
    return book, texts, embed(texts, embedder), book.human_matrix([[c] for c in df["label"]]), df


def ceilings(embedder, seed: int) -> dict:
    """What full supervision reaches, the evidence for the goals that stay missed.

    GP: every other speaker coded (10-fold cross-validation grouped by speaker, ~90% of the speakers coded
    per fold; fold seeds 0-2): zero-shot, the learner before (embedding only), the default learner
    (embedding + words), and a weak-prior learner (``C = 10``). NHS: a random 80% of the comments coded
    (8,242), scored on the other 2,060 (the main run's ``supervised_ceiling`` is a random half): the default learner (one-vs-rest,
    its 0.3 threshold, and the top theme), multinomial logistic regressions on the embeddings and on
    embeddings + TF-IDF (C chosen on a validation fifth of the training part), a linear SVM on TF-IDF. NHS
    zero-shot: per category kappa, precision, recall and where each human category's comments go."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.svm import LinearSVC

    from stakeholder_nlp.themes.coder import ThemeCoder
    from stakeholder_nlp.themes.crossval import kappa_columns

    out: dict = {}
    book, texts, x, ctx, h, groups = _gp_data(embedder)
    phrases = embed(ThemeCoder(book, embedder).phrases(), embedder)
    zero = ThemeCoder(book, embedder, phrase_vectors=phrases, random_state=seed).fit(x, context=ctx)
    learners = {"embedding + words": {"text_features": True}, "default (embedding only)": {"text_features": False},
                "weak prior C=10, embedding + words": {"C": 10.0, "text_features": True}}
    gp_res: dict = {k: [] for k in ["zero-shot", *learners]}
    for fold_seed in (0, 1, 2):
        pred = {k: np.zeros(h.shape, dtype=bool) for k in gp_res}
        for tr, te in GroupKFold(n_splits=10, shuffle=True, random_state=fold_seed).split(x, groups=groups):
            coded = np.zeros(len(x), dtype=bool)
            coded[tr] = True
            y = np.where(coded[:, None], h, False)
            pred["zero-shot"][te] = zero.predict(x[te], context=ctx[te]).to_numpy()
            for name, kw in learners.items():
                c = ThemeCoder(book, embedder, phrase_vectors=phrases, random_state=seed, **kw).fit(
                    x, context=ctx, y=y, coded=coded, groups=groups, texts=texts)
                pred[name][te] = c.predict(x[te], context=ctx[te], texts=[texts[i] for i in te]).to_numpy()
        for name, m in pred.items():
            gp_res[name].append(kappa_columns(h, m).tolist())
        print("GP 90% coded, fold seed", fold_seed, {k: round(float(np.nanmean(v[-1])), 3) for k, v in gp_res.items()},
              flush=True)
    out["gp_90pct_speakers_coded"] = {
        "design": "10-fold CV grouped by speaker (each fold: ~90% of speakers coded), fold seeds 0-2",
        "themes": book.ids, "kappa_per_seed": gp_res,
        "mean": {k: float(np.mean([np.nanmean(r) for r in v])) for k, v in gp_res.items()},
        "kappa_mean_over_seeds": {k: np.nanmean(np.array(v, dtype=float), axis=0).tolist() for k, v in gp_res.items()}}

    book, texts, x, h, df = _nhs_data(embedder)
    phrases = embed(ThemeCoder(book, embedder).phrases(), embedder)
    onehot = np.eye(h.shape[1], dtype=bool)
    lab = h.argmax(1)
    nhs_res = {}
    for share in (0.8,):
        perm = np.random.default_rng(seed).permutation(len(x))
        n_tr = int(round(share * len(x)))
        tr, te = np.sort(perm[:n_tr]), np.sort(perm[n_tr:])
        res: dict = {"coded": len(tr), "scored": len(te)}

        def score(name, m, t0, res=res, te=te, share=share):
            k = kappa_columns(h[te], m)
            res[name] = {"kappa": k.tolist(), "mean": float(np.nanmean(k)), "fit_s": time.perf_counter() - t0}
            print(f"NHS {share:.0%} coded: {name}: {res[name]['mean']:.3f} ({res[name]['fit_s']:.0f} s)", flush=True)

        coded = np.zeros(len(x), dtype=bool)
        coded[tr] = True
        t0 = time.perf_counter()
        c = ThemeCoder(book, embedder, phrase_vectors=phrases, random_state=seed, C=10.0, text_features=True).fit(
            x, y=np.where(coded[:, None], h, False), coded=coded, texts=texts)
        p = c.predict_proba(x[te], texts=[texts[i] for i in te]).to_numpy()
        score("our learner C=10, embedding + words, threshold 0.3", p >= 0.3, t0)
        score("our learner C=10, embedding + words, top theme", onehot[p.argmax(1)], t0)
        inner = np.random.default_rng(seed + 1).permutation(tr)
        fit_part, val = inner[len(tr) // 5:], inner[: len(tr) // 5]
        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, stop_words="english",
                              max_features=20000).fit([texts[i] for i in tr])
        from scipy import sparse

        words = vec.transform(texts)
        feats = {"embedding": x, "embedding + TF-IDF": sparse.hstack([sparse.csr_matrix(x), words], format="csr"),
                 "TF-IDF": words}
        for fname, f in feats.items():
            t0 = time.perf_counter()
            if fname == "TF-IDF":
                grid, make = (0.1, 0.3, 1.0), (lambda C: LinearSVC(C=C))
                name = "linear SVM on TF-IDF"
            else:
                grid, make = (1.0, 10.0, 100.0), (lambda C: LogisticRegression(C=C, max_iter=3000))
                name = f"multinomial logistic regression on {fname}"
            val_k = [np.nanmean(kappa_columns(h[val], onehot[make(C).fit(f[fit_part], lab[fit_part]).predict(f[val])]))
                     for C in grid]
            best = grid[int(np.argmax(val_k))]
            m = onehot[make(best).fit(f[tr], lab[tr]).predict(f[te])]
            score(f"{name} (C={best} on validation)", m, t0)
        nhs_res[f"{int(share * 100)}%_coded"] = res
    out["nhs_full_supervision"] = nhs_res
    z = ThemeCoder(book, embedder, phrase_vectors=phrases, random_state=seed).fit(x)
    m = z.predict(x).to_numpy()
    k = kappa_columns(h, m)
    ids = book.ids
    out["nhs_zero_shot"] = {
        "themes": ids, "kappa": k.tolist(), "mean": float(np.nanmean(k)), "human_n": h.sum(0).tolist(),
        "machine_n": m.sum(0).tolist(), "precision": ((h & m).sum(0) / np.maximum(1, m.sum(0))).tolist(),
        "recall": ((h & m).sum(0) / h.sum(0)).tolist(), "no_theme_share": float((m.sum(1) == 0).mean()),
        # per human category (rows): the share of its comments the coder gives each theme, and no theme
        "where_each_category_goes": {ids[i]: dict(zip([*ids, "(none)"], [float(m[lab == i, j].mean()) for j in range(
            len(ids))] + [float((m[lab == i].sum(1) == 0).mean())], strict=True)) for i in range(len(ids))},
        "care_received_recall_by_subcategory": {
            str(sc): [int(n), float(r)] for sc, (n, r) in df.assign(hit=m[:, ids.index("care_received")]).loc[
                lab == ids.index("care_received")].groupby("subcategory")["hit"].agg(["size", "mean"]).iterrows()}}
    return out


def ceiling_fine_tune(embedder, n_coded: int, steps: int, seed: int) -> dict:
    """NHS: the fine-tuned coder (TunedFitter) learned from ``n_coded`` comments drawn at random from the
    ceilings' 80% training part, scored on the same held-out 20% as :func:`ceilings`; beside it the default
    (embedding-only) learner on the same coded comments."""
    from stakeholder_nlp.themes.coder import ThemeCoder
    from stakeholder_nlp.themes.crossval import kappa_columns
    from stakeholder_nlp.themes.finetune import LowerStates
    from stakeholder_nlp.themes.tuned import TunedFitter

    book, texts, x, h, _ = _nhs_data(embedder)
    phrases = embed(ThemeCoder(book, embedder).phrases(), embedder)
    perm = np.random.default_rng(seed).permutation(len(x))
    n_tr = int(round(0.8 * len(x)))
    te = np.sort(perm[n_tr:])
    coded = np.zeros(len(x), dtype=bool)
    coded[np.random.default_rng(seed + 2).choice(perm[:n_tr], size=n_coded, replace=False)] = True
    y = np.where(coded[:, None], h, False)
    out = {"coded": n_coded, "scored": len(te), "steps": steps, "themes": book.ids}
    sub = np.flatnonzero(coded | np.isin(np.arange(len(x)), te))  # only these comments are (re-)embedded
    at = np.searchsorted(sub, te)
    t = time.perf_counter()
    fold = TunedFitter(book, [texts[i] for i in sub], None, steps=steps, states=LowerStates(), seed=seed)(
        y[sub], coded[sub])
    fit_s = time.perf_counter() - t
    c = ThemeCoder(book, embedder, phrase_vectors=phrases, random_state=seed).fit(x, y=y, coded=coded)
    preds = {}
    onehot = np.eye(h.shape[1], dtype=bool)
    for name, p in (("fine-tuned encoder", fold.coder.predict_proba(fold.x[at]).to_numpy()),
                    ("default (embedding only)", c.predict_proba(x[te]).to_numpy())):
        preds[f"{name}, threshold 0.3"] = p >= 0.3
        preds[f"{name}, top theme"] = onehot[p.argmax(1)]
    for name, m in preds.items():
        k = kappa_columns(h[te], m)
        out[name] = {"kappa": k.tolist(), "mean": float(np.nanmean(k))}
    out["fine_tune_fit_s"] = fit_s
    print({k: round(v["mean"], 3) for k, v in out.items() if isinstance(v, dict)}, f"fit {fit_s:.0f} s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--nhs-draws", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-nhs", action="store_true")
    ap.add_argument("--fine-tune", choices=("gp", "nhs"), help="only the fine-tuned coder's draws for one set "
                    "(accumulated in results/codebook_finetune.json)")
    ap.add_argument("--ceilings", action="store_true", help="only the ceilings: GP with ~90% of speakers coded, "
                    "NHS with 80% coded, NHS zero-shot per category (-> results/codebook_ceilings.json)")
    ap.add_argument("--ceiling-fine-tune", type=int, metavar="N", help="only the NHS ceiling of the fine-tuned "
                    "coder learned from N comments (-> results/codebook_ceiling_finetune.json)")
    ap.add_argument("--first-draw", type=int, default=0)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    from stakeholder_nlp.embedding import load_embedder

    embedder = load_embedder("fast", cache_dir=ROOT / "models" / "cache")
    if args.fine_tune:
        fine_tune_draws(embedder, args.fine_tune, args.first_draw, args.draws, args.steps, args.seed)
        return
    if args.ceiling_fine_tune:
        print(write_result("codebook_ceiling_finetune", {"model_id": embedder.model_id, **ceiling_fine_tune(
            embedder, args.ceiling_fine_tune, args.steps, args.seed)}))
        return
    if args.ceilings:
        print(write_result("codebook_ceilings", {"model_id": embedder.model_id, **ceilings(embedder, args.seed)}))
        return
    res = {"model_id": embedder.model_id, "gp_clusters": gp(embedder, args.draws, args.seed)}
    g = res["gp_clusters"]
    if "codebook_v1" in g:
        v = g["codebook_v1"]
        print(f"GP codebook v1: today {v['today']['mean']:.3f} | zero-shot no context "
              f"{v['zero_shot_no_context']['mean']:.3f} | zero-shot {v['zero_shot']['mean']:.3f}")
    print("GP zero-shot per theme:", dict(zip(g["themes"], np.round(g["zero_shot"]["kappa"], 2), strict=True)))
    print(f"GP mean kappa: today {g['today']['mean']:.3f} | zero-shot no context {g['zero_shot_no_context']['mean']:.3f}"
          f" | zero-shot {g['zero_shot']['mean']:.3f} | CV5 learned {g['cv5_all_coded']['mean']:.3f} | BERTopic "
          f"default {g['bertopic_zero_shot']['default_mean']:.3f}, best "
          f"{g['bertopic_zero_shot']['best_mean']:.3f} (min_similarity {g['bertopic_zero_shot']['best_min_similarity']})",
          flush=True)
    for k, v in g["learned"].items():
        print(f"GP learned {k}, with words: {v['learned_mean']:.3f} (embedding only, the default: {v['previous_learner_mean']:.3f}, zero-shot "
              f"on the same quotes {v['zero_shot_mean_same_quotes']:.3f}); pooled over draws {v['pooled_learned_mean']:.3f}"
              f" (previous {v['pooled_previous_mean']:.3f}, zero-shot {v['pooled_zero_shot_mean']:.3f}); C, words "
              f"{v['C_and_text_scale_chosen']}; fit {v['fit_s_median']:.1f}s vs {v['previous_fit_s_median']:.1f}s",
              flush=True)
    if not args.skip_nhs:
        res["nhs_fft"] = n = nhs(embedder, args.nhs_draws, args.seed)
        print("NHS zero-shot per category:", dict(zip(n["themes"], np.round(n["zero_shot"]["kappa"], 2), strict=True)))
        print(f"NHS mean kappa: today {n['today']['mean']:.3f} | zero-shot {n['zero_shot']['mean']:.3f} (codebook v1 "
              f"{n.get('zero_shot_codebook_v1', {}).get('mean', float('nan')):.3f}) | learned (50/category) with words "
              f"{n['learned']['mean']:.3f} (embedding only, the default: {n['learned']['previous_learner_mean']:.3f}; C, words "
              f"{n['learned']['C_and_text_scale_chosen']}) | random 450 {n['learned_random_sample']['mean']:.3f} | supervised "
              f"ceiling {n['supervised_ceiling']['mean']:.3f} | BERTopic default "
              f"{n['bertopic_zero_shot']['default_mean']:.3f}, best {n['bertopic_zero_shot']['best_mean']:.3f}",
              flush=True)
    print(write_result("codebook", res))


if __name__ == "__main__":
    main()
