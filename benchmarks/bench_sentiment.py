"""Sentiment scorers on held-out human labels, one table: VADER, the earlier embedding head, the new default.

    nice -n 15 .venv/bin/python benchmarks/bench_sentiment.py --skip-speed       # accuracy (long)
    flock /work/helpers/s2/timing.lock .venv/bin/python benchmarks/bench_sentiment.py --speed-only
                                       # speed, normal priority (merged into the same JSON)

Sets (3 classes, macro-F1 and accuracy), none of them trained on by any scorer:
* NHS FFT: the ``test`` part of the split by unique text (seed 13); the default trained on ``train`` only;
* GoEmotions ``test`` (Google's split; positive / neutral / negative rows);
* NewsMTSC ``devtest_rw``, single-target sentences;
* Financial PhraseBank AllAgree and 50Agree (evaluation only);
* EmoBank ``test`` split, valence <= 2.5 negative / >= 3.5 positive (evaluation only).
Also: texts/s of each scorer (``--speed-only``: the default on OpenVINO static int8 and on the ONNX
Runtime fallback, the old head and VADER, in interleaved rounds, median), the few-shot adaptation curve (8/16/32/64 labels per class,
mean of 5 draws; labels drawn from a pool that is disjoint from the evaluation set; the scored set is never
used for fitting), the probe list (benchmarks/data/sentiment_probes.csv) and the built-in corpus's mean
sentiment per theme x wave under each scorer. Writes benchmarks/results/sentiment.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, RESULTS, ROOT, require, write_result  # noqa: E402

PROBES = ROOT / "benchmarks" / "data" / "sentiment_probes.csv"
AUTHORED = ROOT / "benchmarks" / "data" / "sentiment_interview_authored.csv"


def eval_sets(only: tuple[str, ...] | None = None) -> dict[str, pd.DataFrame]:
    from stakeholder_nlp.sentiment.data import (
        load_emobank,
        load_goemotions,
        load_newsmtsc,
        load_nhs_fft,
        load_phrasebank,
        split_by_text,
    )

    def nhs_test():
        nhs = load_nhs_fft(require(DATA / "nhs_fft_phase1" / "text_data.csv"))
        return nhs[split_by_text(nhs) == "test"].reset_index(drop=True)

    loaders = {
        "nhs_fft_test": nhs_test,
        "goemotions_test": lambda: load_goemotions(require(DATA / "goemotions" / "goemotions_sentiment.csv"), "test"),
        "newsmtsc_rw_test": lambda: load_newsmtsc(require(DATA / "newsmtsc" / "newsmtsc_targets.csv"), "devtest_rw"),
        "fpb_allagree": lambda: load_phrasebank(require(DATA / "financial_phrasebank" / "fpb_allagree.csv")),
        "fpb_50agree": lambda: load_phrasebank(require(DATA / "financial_phrasebank" / "fpb_50agree.csv")),
        "emobank_test": lambda: load_emobank(require(DATA / "emobank" / "emobank_sentiment.csv"), "test"),
    }
    return {name: load() for name, load in loaders.items() if only is None or name in only}


def adaptation_pools() -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """(pool to draw labels from, evaluation set), disjoint."""
    from stakeholder_nlp.sentiment.data import load_emobank, load_nhs_fft, load_phrasebank, split_by_text

    emo_train = load_emobank(DATA / "emobank" / "emobank_sentiment.csv", "train")
    # every negative/positive row and as many neutral ones: the draw needs 64 of each class
    emo_pool = pd.concat([emo_train[emo_train["label3"] != "neutral"],
                          emo_train[emo_train["label3"] == "neutral"].sample(n=700, random_state=0)])
    emo_test = load_emobank(DATA / "emobank" / "emobank_sentiment.csv", "test")
    allag = load_phrasebank(DATA / "financial_phrasebank" / "fpb_allagree.csv")
    fifty = load_phrasebank(DATA / "financial_phrasebank" / "fpb_50agree.csv")
    fpb_pool = fifty[~fifty["text"].isin(set(allag["text"]))]
    nhs = load_nhs_fft(DATA / "nhs_fft_phase1" / "text_data.csv")
    part = split_by_text(nhs)
    return {"emobank_test": (emo_pool.reset_index(drop=True), emo_test),
            "fpb_allagree": (fpb_pool.reset_index(drop=True), allag),
            "nhs_fft_test": (nhs[part == "val"].reset_index(drop=True), nhs[part == "test"].reset_index(drop=True))}


def few_shot_curve(scorer, draws: int, ks=(8, 16, 32, 64), limit: int = 0, known: dict | None = None) -> dict:
    from sklearn.metrics import f1_score

    from stakeholder_nlp.sentiment.finetuned import CLASSES
    from stakeholder_nlp.sentiment.validation import AdaptedHead, quote_inputs

    out = {}
    for name, (pool, test) in adaptation_pools().items():
        if limit:
            test = test.sample(n=min(limit, len(test)), random_state=0)
        zp, fp = quote_inputs(scorer, pool["text"].tolist())
        tt = test["text"].tolist()
        if known is not None and all(t in known for t in tt):
            zt, ft = np.stack([known[t][0] for t in tt]), np.stack([known[t][1] for t in tt])
        else:
            zt, ft = quote_inputs(scorer, tt)
        yp, yt = pool["label3"].to_numpy(), test["label3"].to_numpy()
        base = f1_score(yt, np.array(CLASSES)[zt.argmax(1)], average="macro")
        row = {"default": float(base), "pool": len(pool), "eval_n": len(test)}
        for k in ks:
            scores = []
            for d in range(draws):
                rng = np.random.default_rng(1000 * k + d)
                idx = np.concatenate([rng.choice(np.flatnonzero(yp == c), size=min(k, int((yp == c).sum())),
                                                 replace=False) for c in CLASSES])
                head = AdaptedHead(random_state=d).fit(zp[idx], fp[idx], yp[idx])
                scores.append(f1_score(yt, np.array(CLASSES)[head.predict_proba(zt, ft).argmax(1)], average="macro"))
            row[f"k{k}"] = float(np.mean(scores))
            row[f"k{k}_sd"] = float(np.std(scores))
        out[name] = row
        print(f"few-shot {name:14s} default {base:.3f} " + " ".join(f"k={k}: {row[f'k{k}']:.3f}" for k in ks),
              flush=True)
    return out


def speed(scorers: dict, texts: list[str], rounds: int = 5) -> dict:
    """Wall-clock texts/s of each scorer, in interleaved rounds (each round runs every scorer once, so a
    busy spell on a shared machine hits all of them), warm; median and best round, the load average
    beside each round, and texts per CPU-second of this process (a runtime that spins its threads while
    waiting spends CPU time without work, so that figure is not comparable across runtimes)."""
    for sc in scorers.values():
        sc.score(texts)  # warm: every padded shape seen once
    walls: dict = {n: [] for n in scorers}
    cpus: dict = {n: [] for n in scorers}
    loads = []
    for r in range(rounds):
        for name, sc in (scorers.items() if r % 2 == 0 else list(scorers.items())[::-1]):
            t, c = time.perf_counter(), time.process_time()
            sc.score(texts)
            walls[name].append(time.perf_counter() - t)
            cpus[name].append(time.process_time() - c)
        loads.append(os.getloadavg()[0])
    out = {}
    for name in scorers:
        w = np.asarray(walls[name])
        out[name] = {"n": len(texts), "rounds": rounds, "texts_per_s_median": len(texts) / float(np.median(w)),
                     "texts_per_s_best": len(texts) / float(w.min()),
                     "texts_per_s_each": [round(float(len(texts) / x), 1) for x in w],
                     "texts_per_cpu_s": len(texts) / float(np.median(cpus[name])), "load_average_each": [round(x, 2) for x in loads]}
        print(f"speed {name:40s} median {out[name]['texts_per_s_median']:.0f} texts/s, best "
              f"{out[name]['texts_per_s_best']:.0f} (rounds {out[name]['texts_per_s_each']}; load {out[name]['load_average_each']})", flush=True)
    return out


def speed_only(rounds: int) -> None:
    """Speed alone, merged into benchmarks/results/sentiment.json (run under the timing lock); each run is
    also appended to ``speed_runs``, so that runs at different loads stay side by side."""
    import json

    from stakeholder_nlp.embedding import load_embedder
    from stakeholder_nlp.sentiment import EmbeddingHeadScorer, FineTunedScorer, VaderScorer

    nhs = eval_sets(only=("nhs_fft_test",))["nhs_fft_test"]
    texts = nhs["text"].tolist()[:1000]
    scorers = {"minilm-sentiment (new default: static int8, ONNX Runtime)": FineTunedScorer(),
               "minilm-sentiment (same graph on OpenVINO)": FineTunedScorer(backend="openvino"),
               "vader": VaderScorer()}
    sp = speed(scorers, texts, rounds)
    head = {"embedding-head (old default)": EmbeddingHeadScorer(load_embedder("fast"))}
    sp.update(speed(head, texts, 1))
    path = RESULTS / "sentiment.json"
    prior = json.loads(path.read_text()) if path.exists() else {}
    prior.pop("machine", None)
    prior.pop("benchmark", None)
    runs = prior.get("speed_runs", []) + [{"date": time.strftime("%Y-%m-%dT%H:%M:%S"), **sp}]
    print(f"wrote {write_result('sentiment', {**prior, 'speed_texts_per_s': sp, 'speed_runs': runs, 'speed_texts': 'NHS FFT test, first 1,000 comments, sentence splitting included'})}")


def variants(specs: list[str], probes_too: bool = True) -> None:
    """Held-out macro-F1 of several versions of the fine-tuned model side by side, each with and without
    its logit bias: ``DIR`` (the config's ``logit_bias``) or ``DIR=b_neg,b_neu,b_pos``. The network runs
    once per folder (raw sentence logits); a bias is applied afterwards, exactly as the scorer applies it.
    Also the authored interview-register set's ``val`` part and the probe list. Writes
    benchmarks/results/sentiment_variants.json."""
    import json

    from sklearn.metrics import f1_score

    from stakeholder_nlp.sentiment import FineTunedScorer
    from stakeholder_nlp.sentiment.finetuned import CLASSES, sentence_pieces

    sets = eval_sets()
    authored = pd.read_csv(AUTHORED)
    sets["authored_val"] = authored[authored["split"] == "val"].rename(columns={"label": "label3"})
    probes = pd.read_csv(PROBES)
    if probes_too:
        sets["probes"] = probes.rename(columns={"expected": "label3"})
    union = list(dict.fromkeys(t for df in sets.values() for t in df["text"].tolist()))
    pieces, owner_a = sentence_pieces(union)
    starts = np.flatnonzero(np.r_[True, owner_a[1:] != owner_a[:-1]])
    counts = np.bincount(owner_a, minlength=len(union))[:, None]
    position = {t: i for i, t in enumerate(union)}
    rows = []
    for spec in specs:
        folder, _, given = spec.partition("=")
        raw = FineTunedScorer(folder, logit_bias=(0.0, 0.0, 0.0))
        shipped = json.loads((Path(folder) / "config.json").read_text()).get("logit_bias")
        bias = [float(x) for x in given.split(",")] if given else shipped
        t = time.perf_counter()
        z = raw.piece_outputs(pieces)[0].astype(np.float64)
        print(f"{folder}: {len(pieces)} sentences in {time.perf_counter() - t:.0f} s", flush=True)
        for label, b in (("no bias", [0.0, 0.0, 0.0]), (f"bias {bias}", bias)) if bias else (("no bias", [0.0] * 3),):
            zz = z + np.asarray(b)
            p = np.exp(zz - zz.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            pred = np.array(CLASSES)[(np.add.reduceat(p, starts, axis=0) / counts).argmax(axis=1)]
            row = {"model": folder, "bias": b, "variant": label}
            for name, df in sets.items():
                got = pred[[position[x] for x in df["text"]]]
                row[name] = float(f1_score(df["label3"], got, average="macro")) if name != "probes" else \
                    float(np.mean(got == df["label3"].to_numpy()))
            rows.append(row)
            print(f"{folder} {label}: " + " ".join(f"{k} {v:.3f}" for k, v in row.items()
                                                     if isinstance(v, float)), flush=True)
    print(f"wrote {write_result('sentiment_variants', {'rows': rows, 'note': 'macro-F1 on held-out sets; probes: accuracy'})}")


#: "the figure went up / down" words: financial news calls a rise positive and a fall negative
RISE = r"\b(?:ros[e]|rise[sn]?|rising|increas\w*|gr[eo]w\w*|up\b|higher|improv\w*|gain\w*|doubl\w*|surg\w*|jump\w*)"
FALL = r"\b(?:fell|fall\w*|decreas\w*|declin\w*|drop\w*|down\b|lower|los[st]\w*|cut\w*|weak\w*|slump\w*)"
#: a money amount or percentage: the form of a company report
FIGURE = r"(?i)(?:\d[\d.,]*\s*(?:%|percent|pct|mn|m\b|bn|million|billion)|\b(?:EUR|USD|\$|£|€))"


def _class_table(gold: np.ndarray, pred: np.ndarray) -> dict:
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    from stakeholder_nlp.sentiment.finetuned import CLASSES

    prec, rec, f1, sup = precision_recall_fscore_support(gold, pred, labels=list(CLASSES), zero_division=0)
    return {"n": len(gold), "macro_f1": float(f1_score(gold, pred, labels=list(CLASSES), average="macro")),
            "accuracy": float(np.mean(gold == pred)),
            "confusion(rows=true neg,neu,pos; cols=predicted)": confusion_matrix(gold, pred, labels=list(CLASSES)).tolist(),
            "per_class": {c: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]),
                              "n": int(sup[i])} for i, c in enumerate(CLASSES)}}


def _bootstrap_f1(gold: np.ndarray, pred: np.ndarray, n_boot: int = 2000, seed: int = 0) -> list[float]:
    """95% percentile bootstrap interval of the macro-F1 (texts resampled)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from train_sentiment_bias import macro_f1

    from stakeholder_nlp.sentiment.finetuned import CLASSES

    index = {c: i for i, c in enumerate(CLASSES)}
    g, p = np.array([index[x] for x in gold]), np.array([index[x] for x in pred])
    rng = np.random.default_rng(seed)
    boots = [macro_f1(g[ix], p[ix]) for ix in rng.integers(0, len(g), size=(n_boot, len(g)))]
    return [float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))]


def _best_two_cuts(score: np.ndarray, gold: np.ndarray) -> dict:
    """The best macro-F1 any two cut points on the score reach (negative below the first, positive above
    the second), cuts chosen ON THE SET ITSELF: a ceiling of the score's ordering, not a model."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from train_sentiment_bias import macro_f1

    y = pd.Series(gold).map({"negative": 0, "neutral": 1, "positive": 2}).to_numpy()
    grid = np.unique(np.quantile(score, np.linspace(0, 1, 161)))
    best = (-1.0, 0.0, 0.0)
    for i, lo in enumerate(grid):
        for hi in grid[i:]:
            f = macro_f1(y, np.where(score < lo, 0, np.where(score > hi, 2, 1)))
            if f > best[0]:
                best = (float(f), float(lo), float(hi))
    return {"macro_f1": best[0], "cut_negative_below": best[1], "cut_positive_above": best[2]}


def _best_bias(scorer, texts: list[str], gold: np.ndarray) -> dict:
    """The best macro-F1 any per-class logit bias (a prior correction, as ``logit_bias`` applies it) reaches,
    chosen ON THE SET ITSELF: a ceiling of what re-weighting the classes can do, not a model."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from train_sentiment_bias import SentencePieces, macro_f1

    from stakeholder_nlp.sentiment.finetuned import CLASSES

    sp = SentencePieces(scorer, texts)
    y = pd.Series(gold).map({c: i for i, c in enumerate(CLASSES)}).to_numpy()
    grid = np.round(np.arange(-3.0, 3.0001, 0.1), 3)
    best = (-1.0, 0.0, 0.0)
    for bn in grid:
        for bp in grid:
            f = macro_f1(y, sp.labels(np.array([bn, 0.0, bp])))
            if f > best[0]:
                best = (f, float(bn), float(bp))
    return {"macro_f1": best[0], "bias": [best[1], 0.0, best[2]]}


def _probe_fit(x_pool: np.ndarray, y_pool: np.ndarray):
    """A class-balanced logistic regression on the model's pooled features (C by 5-fold CV on the pool).
    Fitted on an in-register pool and scored on a held-out set, it says what the encoder's features allow
    when a head is given in-register labels (which the shipped model may not be trained on): diagnostic only."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=[0.001, 0.01, 0.1, 1.0], cv=5, l1_ratios=(0.0,),
                                                               class_weight="balanced", scoring="f1_macro",
                                                               max_iter=2000, use_legacy_attributes=False))
    return clf.fit(x_pool, y_pool)


def _probe_score(clf, x_test: np.ndarray, y_test: np.ndarray) -> dict:
    from sklearn.metrics import f1_score

    return {"pool_n": int(clf[0].n_samples_seen_),
            "macro_f1": float(f1_score(y_test, clf.predict(x_test), average="macro")), "C": float(np.ravel(clf[-1].C_)[0])}


def registers(model: str | None) -> None:
    """Evidence for the two evaluation-only registers (PhraseBank, EmoBank; NHS test beside them): where the
    shipped model's errors go, bootstrap intervals, per-genre EmoBank figures, and measured ceilings (the best logit bias and the best two cuts
    chosen on the set itself; a linear probe on the encoder's features with in-register labels; the same
    probe with the training registers' labels). Nothing here trains or tunes the shipped model. Writes
    benchmarks/results/sentiment_registers.json."""
    from scipy.stats import spearmanr

    from stakeholder_nlp.sentiment import FineTunedScorer
    from stakeholder_nlp.sentiment.data import load_emobank, load_nhs_fft, split_by_text
    from stakeholder_nlp.sentiment.finetuned import CLASSES
    from stakeholder_nlp.sentiment.validation import quote_inputs

    scorer = FineTunedScorer(model)
    sets = eval_sets(only=("nhs_fft_test", "fpb_allagree", "fpb_50agree", "emobank_test"))
    out: dict = {"model": str(scorer.path), "sets": {}}
    feats: dict = {}
    for name, df in sets.items():
        texts, gold = df["text"].tolist(), df["label3"].to_numpy()
        z, f = quote_inputs(scorer, texts)
        p = np.exp(z)
        pred, score = np.array(CLASSES)[z.argmax(1)], p[:, 2] - p[:, 0]
        feats[name] = f
        row = {**_class_table(gold, pred), "macro_f1_95ci_bootstrap": _bootstrap_f1(gold, pred),
               "best_two_cuts_on_this_set": _best_two_cuts(score, gold),
               "best_logit_bias_on_this_set": _best_bias(scorer, texts, gold)}
        if name.startswith("fpb"):
            low = df["text"].str.lower()
            for tag, pat in (("rise_word", RISE), ("fall_word", FALL), ("money_or_percent", FIGURE)):
                has = low.str.contains(pat, regex=True).to_numpy()
                row[f"with_{tag}"] = {c: {"n": int((has & (gold == c)).sum()),
                                          "read_as": {k: int((has & (gold == c) & (pred == k)).sum()) for k in CLASSES}}
                                      for c in CLASSES}
        if name == "nhs_fft_test":  # the neutral class is criticality -1..1: what each grade is read as
            row["by_criticality"] = {int(c): {k: int(((df["criticality"] == c).to_numpy() & (pred == k)).sum())
                                              for k in CLASSES} for c in sorted(df["criticality"].unique())}
        if name == "emobank_test":
            v = df["V"].to_numpy()
            row["spearman_score_valence"] = float(spearmanr(score, v).statistic)
            wrong = pred != gold
            near = (np.abs(v - 2.5) <= 0.2) | (np.abs(v - 3.5) <= 0.2)
            row["near_a_cut(|V-cut|<=0.2)"] = {"share_of_all": float(near.mean()),
                                                "share_of_errors": float(near[wrong].mean())}
            row["by_genre"] = {}
            for g, sel in df.groupby("genre").groups.items():
                ix = df.index.get_indexer(sel)
                r = _class_table(gold[ix], pred[ix])
                r["spearman_score_valence"] = float(spearmanr(score[ix], v[ix]).statistic)
                r["valence_sd"] = float(v[ix].std())
                row["by_genre"][str(g)] = r
        out["sets"][name] = row
        print(f"{name}: macro-F1 {row['macro_f1']:.3f}; best two cuts on the set {row['best_two_cuts_on_this_set']['macro_f1']:.3f}; "
              f"best bias on the set {row['best_logit_bias_on_this_set']['macro_f1']:.3f}", flush=True)
    # linear probes: in-register labels (a pool disjoint from the scored set) vs the training registers' labels
    emo_train = load_emobank(DATA / "emobank" / "emobank_sentiment.csv", "train")
    fpb_pool = adaptation_pools()["fpb_allagree"][0]
    nhs = load_nhs_fft(DATA / "nhs_fft_phase1" / "text_data.csv")
    nhs_train = nhs[split_by_text(nhs) == "train"].reset_index(drop=True)
    train_frame = _training_rows(3000)
    _, ft = quote_inputs(scorer, train_frame["text"].tolist())
    general = _probe_fit(ft, train_frame["label3"].to_numpy())
    probes = {}
    for name, pool in (("nhs_fft_test", nhs_train), ("emobank_test", emo_train), ("fpb_allagree", fpb_pool)):
        _, fp = quote_inputs(scorer, pool["text"].tolist())
        y_test = sets[name]["label3"].to_numpy()
        probes[name] = {"in_register_labels": _probe_score(_probe_fit(fp, pool["label3"].to_numpy()), feats[name], y_test),
                        "training_registers_labels": _probe_score(general, feats[name], y_test)}
        print(f"linear probe {name}: {probes[name]}", flush=True)
    out["linear_probe_ceilings"] = probes
    tr = train_frame.assign(low=train_frame["text"].str.lower())
    out["training_rows_sample"] = {
        "n": len(tr), "by_source": tr["source"].value_counts().to_dict(),
        **{f"with_{tag}": {"n": int(tr["low"].str.contains(pat, regex=True).sum()),
                           "labels": tr.loc[tr["low"].str.contains(pat, regex=True), "label3"].value_counts().to_dict()}
           for tag, pat in (("rise_word", RISE), ("fall_word", FALL), ("money_or_percent", FIGURE))}}
    print(f"wrote {write_result('sentiment_registers', out)}")


def _training_rows(n_per_source: int) -> pd.DataFrame:
    """A random sample of the rows the shipped model was trained on (each source's train part, at most
    ``n_per_source`` rows each)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from train_sentiment import training_frame

    df = training_frame(0, 1, 13).drop_duplicates("text")
    return pd.concat([g.sample(n=min(n_per_source, len(g)), random_state=0)
                      for _, g in df.groupby("source")]).reset_index(drop=True)


def corpus_table(scorers: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean sentiment per theme x wave of the built-in corpus (codebook themes), under each scorer, with the
    intervals :func:`sentiment_levels` gives (CR2 / Bell-McCaffrey mean, Rao-Scott Wilson shares)."""
    from stakeholder_nlp.corpus import builtin_corpus_path, load_corpus
    from stakeholder_nlp.embedding import EmbeddingCache, embed_texts, load_embedder
    from stakeholder_nlp.sentiment import sentiment_levels
    from stakeholder_nlp.themes import fit_themes, load_codebook

    corpus = load_corpus(builtin_corpus_path())
    corpus = corpus.subset(corpus.quotes["kind"].isin(["quotation", "phrase"]))
    q = corpus.quotes
    embedder = load_embedder("fast")
    with EmbeddingCache(ROOT / "models" / "cache") as cache:
        x = embed_texts(corpus.texts, embedder, cache=cache).vectors
    book = load_codebook(ROOT / "corpus" / "gp_clusters" / "codebook.toml")
    themes = fit_themes(corpus.texts, x, codebook=book, mode="deductive", embedder=embedder, random_state=0)
    rows, overall = [], []
    for name, sc in scorers.items():
        s = np.asarray(sc.score(corpus.texts), dtype=np.float64)
        lab = list(sc.label(corpus.texts))
        lv = sentiment_levels(themes.membership, s, lab, q["wave"].tolist(), q["speaker"].tolist())
        rows.append(lv.assign(scorer=name))
        for w in sorted(q["wave"].unique()):
            sel = (q["wave"] == w).to_numpy()
            overall.append({"scorer": name, "wave": w, "n": int(sel.sum()), "mean": float(s[sel].mean()),
                            "share_negative": float(np.mean(np.array(lab)[sel] == "negative"))})
    return pd.concat(rows, ignore_index=True), pd.DataFrame(overall)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-corpus", action="store_true")
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--model", default=None, help="sentiment model folder (default: models/sentiment_minilm)")
    ap.add_argument("--limit", type=int, default=0, help="rows per set (a quick dry run; 0: all)")
    ap.add_argument("--skip-speed", action="store_true", help="accuracy only (keeps the JSON's speed figures)")
    ap.add_argument("--speed-only", action="store_true", help="speed only, merged into the JSON")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--variants", nargs="+", metavar="DIR[=BIAS]",
                    help="only compare these model folders, each with and without its logit bias")
    ap.add_argument("--registers", action="store_true",
                    help="only the evidence for PhraseBank and EmoBank (errors, genres, measured ceilings)")
    args = ap.parse_args()
    if args.speed_only:
        speed_only(args.rounds)
        return
    if args.registers:
        registers(args.model)
        return
    if args.variants:
        variants(args.variants)
        return
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    from stakeholder_nlp.embedding import EmbeddingCache, load_embedder
    from stakeholder_nlp.sentiment import EmbeddingHeadScorer, FineTunedScorer, VaderScorer

    sets = eval_sets()
    if args.limit:
        sets = {k: v.sample(n=min(args.limit, len(v)), random_state=0) for k, v in sets.items()}
    embedder = load_embedder("fast")
    new = FineTunedScorer(args.model)
    cache = EmbeddingCache(ROOT / "models" / "cache")  # the old head's embeddings: a rerun reads them back
    scorers = {"vader": VaderScorer(), "embedding-head (old default)": EmbeddingHeadScorer(embedder, cache=cache),
               "minilm-sentiment (new default)": new}
    from stakeholder_nlp.sentiment.finetuned import CLASSES
    from stakeholder_nlp.sentiment.validation import quote_inputs

    # every distinct text once per scorer (AllAgree is a subset of 50Agree); the new model's quote-level
    # log-probabilities and features are kept for the few-shot curve
    union = list(dict.fromkeys(t for df in sets.values() for t in df["text"].tolist()))
    by_text: dict = {}
    for name, scorer in scorers.items():
        t = time.perf_counter()
        if scorer is new:
            z, f = quote_inputs(new, union)
            by_text[name] = dict(zip(union, np.array(CLASSES)[z.argmax(1)].tolist(), strict=True))
            inputs = {txt: (z[i], f[i]) for i, txt in enumerate(union)}
        else:
            by_text[name] = dict(zip(union, scorer.label(union), strict=True))
        print(f"{name}: {len(union)} texts labelled in {time.perf_counter() - t:.0f} s", flush=True)
    results: dict = {name: {} for name in scorers}
    for dname, df in sets.items():
        texts = df["text"].tolist()
        for name in scorers:
            labels = [by_text[name][x] for x in texts]
            results[name][dname] = {
                "n": len(texts), "macro_f1": float(f1_score(df["label3"], labels, average="macro")),
                "accuracy": float(accuracy_score(df["label3"], labels)),
                "confusion(rows=true neg,neu,pos)": confusion_matrix(
                    df["label3"], labels, labels=["negative", "neutral", "positive"]).tolist()}
            e = results[name][dname]
            print(f"{name:32s} {dname:18s} n={e['n']:5d} macro-F1 {e['macro_f1']:.3f} acc {e['accuracy']:.3f}",
                  flush=True)
    table = pd.DataFrame([{"set": d, "n": results["vader"][d]["n"],
                           **{f"{n.split(' ')[0]}_f1": results[n][d]["macro_f1"] for n in scorers},
                           **{f"{n.split(' ')[0]}_acc": results[n][d]["accuracy"] for n in scorers}} for d in sets])
    table["gain_over_vader"] = table["minilm-sentiment_f1"] - table["vader_f1"]
    print(table.round(3).to_string(index=False), flush=True)

    speeds: dict = {}
    speed_runs: list = []
    if not args.skip_speed:
        texts = sets["nhs_fft_test"]["text"].tolist()[:1000]
        speeds = speed({n: sc for n, sc in scorers.items() if "old" not in n}, (texts * 25)[:1000], rounds=3)

    probes = pd.read_csv(PROBES)
    for name, scorer in scorers.items():
        probes[name.split(" ")[0]] = np.round(scorer.score(probes["text"].tolist()), 2)
        probes[name.split(" ")[0] + "_label"] = scorer.label(probes["text"].tolist())
    probe_acc = {n.split(" ")[0]: float(np.mean(probes[n.split(" ")[0] + "_label"] == probes["expected"]))
                 for n in scorers}
    with pd.option_context("display.width", 250, "display.max_colwidth", 70):
        print(probes[["kind", "expected", "text", "vader", "embedding-head", "minilm-sentiment"]].to_string(index=False))
    print("probe accuracy (expected label):", probe_acc, flush=True)

    curve = few_shot_curve(new, args.draws, limit=args.limit, known=inputs)
    corpus = {}
    if not args.skip_corpus:
        levels, overall = corpus_table(scorers)
        piv = levels.pivot_table(index=["theme_id", "wave"], columns="scorer", values="mean").round(2)
        print(piv.to_string(), flush=True)
        print(overall.round(3).to_string(index=False), flush=True)
        corpus = {"levels": levels.to_dict(orient="records"), "overall": overall.to_dict(orient="records")}
    cache.close()
    if args.skip_speed and (RESULTS / "sentiment.json").exists():
        import json

        prior = json.loads((RESULTS / "sentiment.json").read_text())
        speeds = {"kept from the last --speed-only run": prior.get("speed_texts_per_s", {}),
                  "machine then": prior.get("machine", {})}
        speed_runs = prior.get("speed_runs", [])
    out = write_result("sentiment", {
        "embedder": embedder.model_id, "model": str(new.path), "backend": new.backend, "results": results,
        "table": table.to_dict("records"), "speed_texts_per_s": speeds, "speed_runs": speed_runs, "few_shot": curve,
        "probes": probes.to_dict(orient="records"), "probe_accuracy": probe_acc, "corpus": corpus})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
