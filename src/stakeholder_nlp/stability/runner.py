"""Refit the theme pipeline over seeds and subsamples, and say how stable each theme and finding is.

Embeddings are computed once by the caller (nothing is embedded twice); each run refits the themes
(and the shift statistics) on its seed or its subsample (``resample`` of the quotes in each wave, without
replacement). Runs go to a process pool where that helps (``n_jobs``).

:class:`StabilityResult` holds

``runs`` (DataFrame): ``run``, ``kind`` (``seed`` or ``subsample``), ``seed``, ``n_quotes``, ``n_topics``.
``summary`` (DataFrame, one row per kind): ``kind``, ``n_runs``, ``ari_mean``, ``ari_min``, ``nmi_mean``,
    ``aj_mean`` (average Jaccard of top-10 terms), ``n_topics_min``, ``n_topics_max``.
``themes`` (DataFrame, one row per theme of the full-data run): ``theme_id``, ``member_stability``.
``findings`` (DataFrame, one row per theme): ``theme_id``, ``prevalence_sign_agreement``,
    ``prevalence_significant_share``, ``sentiment_sign_agreement``, ``sentiment_significant_share``,
    ``n_runs``, ``stable`` (sign agrees in at least ``stable_share`` of runs and, if the full-data
    finding is significant, stays significant that often too).
``consensus`` (ndarray): the consensus labelling of the inductive topics (-1 where none).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..shift import prevalence_shift, primary
from ..themes import ThemeResult, TopicModel, fit_themes
from .metrics import average_jaccard, consensus_labels, pairwise_partition_agreement, theme_member_stability


@dataclass(frozen=True, slots=True)
class StabilityResult:
    runs: pd.DataFrame
    summary: pd.DataFrame
    themes: pd.DataFrame
    findings: pd.DataFrame
    consensus: np.ndarray


class LemmaLookup:
    """A lemmatizer over precomputed lemmas (each run would otherwise re-run spaCy on the same quotes)."""

    def __init__(self, texts: Sequence[str], lemmas: Sequence[str]) -> None:
        self._map = dict(zip(texts, lemmas, strict=True))

    def __call__(self, texts: Sequence[str]) -> list[str]:
        return [self._map.get(t, "") for t in texts]


def _subsample(waves: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    keep = []
    for w in np.unique(waves):
        idx = np.flatnonzero(waves == w)
        keep.append(rng.choice(idx, size=max(2, int(round(fraction * len(idx)))), replace=False))
    return np.sort(np.concatenate(keep))


def _one_run(args):
    (idx, seed, texts, emb, codebook, mode, embedder, lemmatizer, n_topics, waves, speakers, scores, n_boot,
     order) = args
    sub_texts = [texts[i] for i in idx]
    tm = TopicModel(n_topics, random_state=seed, embedder=None, lemmatizer=lemmatizer)
    res: ThemeResult = fit_themes(sub_texts, emb[idx], codebook=codebook, mode=mode, embedder=embedder,
                                  topic_model=tm, random_state=seed)
    pair = {"wave_order": order, "wave_a": order[0], "wave_b": order[-1]}  # first -> last only
    shift = prevalence_shift(res.membership, waves[idx], [speakers[i] for i in idx], n_boot=n_boot, seed=seed,
                             **pair)
    sent = None
    if scores is not None:
        from ..sentiment import sentiment_shift

        sent = sentiment_shift(res.membership, scores[idx], waves[idx], [speakers[i] for i in idx],
                               n_boot=n_boot, seed=seed, **pair)
    terms = res.themes.loc[res.themes["kind"] == "topic", "terms"].tolist()
    return idx, res, shift, sent, terms


def run_stability(texts: Sequence[str], embeddings: np.ndarray, waves: Sequence, speakers: Sequence, *,
                  reference: ThemeResult, codebook=None, mode: str | None = None, embedder=None,
                  sentiment_scores: np.ndarray | None = None, runs: int = 10, resample: float = 0.8,
                  seed: int = 0, n_topics: int | str = "auto", lemmatizer: Callable | None = None,
                  n_boot: int = 500, n_jobs: int = 1, stable_share: float = 0.8, alpha: float = 0.05,
                  progress: bool = False, reference_shifts: pd.DataFrame | None = None,
                  reference_sentiment_shifts: pd.DataFrame | None = None,
                  wave_order: Sequence | None = None) -> StabilityResult:
    """``reference_shifts``/``reference_sentiment_shifts``: the full-data shift tables, when the caller has
    them already (the pipeline does); otherwise they are computed here."""
    texts = list(texts)
    emb = np.asarray(embeddings, dtype=np.float32)
    from ..corpus.waves import as_wave_order

    order = as_wave_order(pd.Series(list(waves), dtype=object) if not isinstance(waves, pd.Series) else waves,
                          wave_order).levels
    waves = np.asarray(list(waves), dtype=object)
    speakers = list(speakers)
    n = len(texts)
    rng = np.random.default_rng(seed)
    plan = [("seed", np.arange(n), seed + 1 + r) for r in range(runs)]
    plan += [("subsample", _subsample(waves, resample, rng), seed) for _ in range(runs)]
    if lemmatizer is None:
        from ..themes.terms import Lemmatizer

        lemmatizer = LemmaLookup(texts, Lemmatizer()(texts))
    jobs = [(idx, s, texts, emb, codebook, mode or reference.mode, embedder, lemmatizer, n_topics, waves, speakers,
             sentiment_scores, n_boot, order) for _, idx, s in plan]
    if n_jobs != 1:
        from joblib import Parallel, delayed

        outputs = Parallel(n_jobs=n_jobs)(delayed(_one_run)(j) for j in jobs)
    else:
        iterator = jobs
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(jobs, desc="stability runs", unit="run")
        outputs = [_one_run(j) for j in iterator]

    ref_run = (np.arange(n), reference.topic_labels)
    ref_shift = reference_shifts
    if ref_shift is None:
        ref_shift = prevalence_shift(reference.membership, waves, speakers, n_boot=n_boot, seed=seed,
                                     wave_order=order)
    ref_sent = reference_sentiment_shifts
    if ref_sent is None and sentiment_scores is not None:
        from ..sentiment import sentiment_shift

        ref_sent = sentiment_shift(reference.membership, sentiment_scores, waves, speakers, n_boot=n_boot,
                                   seed=seed, wave_order=order)
    run_rows, summary_rows = [], []
    by_kind: dict[str, list] = {"seed": [], "subsample": []}
    for (kind, _idx, s), (idx2, res, shift, sent, terms) in zip(plan, outputs, strict=True):
        by_kind[kind].append((idx2, res, shift, sent, terms))
        run_rows.append({"run": len(run_rows), "kind": kind, "seed": s, "n_quotes": len(idx2),
                         "n_topics": int((res.themes["kind"] == "topic").sum())})
    for kind, items in by_kind.items():
        parts = [(idx, res.topic_labels) for idx, res, *_ in items]
        aris, nmis = pairwise_partition_agreement(parts)
        term_lists = [t for *_, t in items]
        ajs = [average_jaccard(a, b) for i, a in enumerate(term_lists) for b in term_lists[i + 1:]]
        ntop = [int((res.themes["kind"] == "topic").sum()) for _, res, *_ in items]
        summary_rows.append({"kind": kind, "n_runs": len(items),
                             "ari_mean": float(np.mean(aris)) if len(aris) else np.nan,
                             "ari_min": float(np.min(aris)) if len(aris) else np.nan,
                             "nmi_mean": float(np.mean(nmis)) if len(nmis) else np.nan,
                             "aj_mean": float(np.nanmean(ajs)) if len(ajs) else np.nan,
                             "n_topics_min": min(ntop), "n_topics_max": max(ntop)})
    all_items = by_kind["seed"] + by_kind["subsample"]
    # themes: member stability for topics; codebook themes by the same Jaccard on their member sets
    theme_rows = []
    topic_stab = theme_member_stability(ref_run, [(idx, res.topic_labels) for idx, res, *_ in all_items])
    for _, row in reference.themes.iterrows():
        tid = row["theme_id"]
        if row["kind"] == "topic":
            t = int(tid.rsplit("_", 1)[1])
            theme_rows.append({"theme_id": tid, "member_stability": topic_stab.get(t, np.nan)})
        else:
            ref_m = reference.membership[tid].to_numpy()
            vals = []
            for idx, res, *_ in all_items:
                a, b = ref_m[idx], res.membership[tid].to_numpy()
                vals.append((a & b).sum() / max((a | b).sum(), 1))
            theme_rows.append({"theme_id": tid, "member_stability": float(np.mean(vals))})
    themes = pd.DataFrame(theme_rows)
    findings = _finding_stability(reference, ref_shift, ref_sent, all_items, stable_share, alpha)
    k = int(np.median([r["n_topics"] for r in run_rows])) if run_rows else 0
    consensus = np.full(n, -1)
    topic_runs = [(idx[res.topic_labels >= 0], res.topic_labels[res.topic_labels >= 0]) for idx, res, *_ in all_items]
    covered = np.unique(np.concatenate([i for i, _ in topic_runs])) if topic_runs else np.array([], int)
    if k >= 2 and len(covered) > k:
        remap = {q: j for j, q in enumerate(covered)}
        local = [(np.array([remap[i] for i in idx]), lab) for idx, lab in topic_runs]
        consensus[covered] = consensus_labels(local, len(covered), k)
    return StabilityResult(pd.DataFrame(run_rows), pd.DataFrame(summary_rows), themes, findings, consensus)


def _match_topics(reference: ThemeResult, idx: np.ndarray, res: ThemeResult) -> dict[str, str]:
    """Map each reference topic theme to the run's theme with the largest member overlap."""
    out = {}
    ref_topics = reference.themes.loc[reference.themes["kind"] == "topic", "theme_id"]
    run_topics = res.themes.loc[res.themes["kind"] == "topic", "theme_id"].tolist()
    for tid in ref_topics:
        a = reference.membership[tid].to_numpy()[idx]
        best, best_j = None, 0.0
        for u in run_topics:
            b = res.membership[u].to_numpy()
            j = (a & b).sum() / max((a | b).sum(), 1)
            if j > best_j:
                best, best_j = u, j
        if best is not None:
            out[tid] = best
    return out


def _finding_stability(reference, ref_shift, ref_sent, items, stable_share, alpha) -> pd.DataFrame:
    rows = []
    ref_shift = primary(ref_shift)  # the first -> last comparison, one row per theme
    ref_sent = primary(ref_sent) if ref_sent is not None else None
    matches = [_match_topics(reference, idx, res) for idx, res, *_ in items]
    # each run's tables indexed once, not once per theme
    indexed = [(res, shift.set_index("theme_id"), sent.set_index("theme_id") if sent is not None else None)
               for _idx, res, shift, sent, _ in items]
    for tid in reference.themes["theme_id"]:
        prev_sign, prev_sig, sent_sign, sent_sig = [], [], [], []
        ref_d = ref_shift.loc[tid, "share_diff"]
        ref_sd = ref_sent.loc[tid, "sentiment_diff"] if ref_sent is not None else np.nan
        for (res, shift, sent), match in zip(indexed, matches, strict=True):
            run_tid = tid if tid in res.membership.columns and not tid.startswith(("topic_", "emergent_")) \
                else match.get(tid)
            if run_tid is None:
                prev_sign.append(False)
                prev_sig.append(False)
                continue
            sh = shift.loc[run_tid]
            prev_sign.append(np.sign(sh["share_diff"]) == np.sign(ref_d))
            prev_sig.append(bool(sh["share_significant"]))
            if sent is not None and np.isfinite(ref_sd):
                se = sent.loc[run_tid]
                sent_sign.append(np.sign(se["sentiment_diff"]) == np.sign(ref_sd))
                sent_sig.append(bool(se["sentiment_significant"]))
        ps, pg = float(np.mean(prev_sign)), float(np.mean(prev_sig))
        ss = float(np.mean(sent_sign)) if sent_sign else np.nan
        sg = float(np.mean(sent_sig)) if sent_sig else np.nan
        stable = ps >= stable_share and (not bool(ref_shift.loc[tid, "share_significant"]) or pg >= stable_share)
        rows.append({"theme_id": tid, "prevalence_sign_agreement": ps, "prevalence_significant_share": pg,
                     "sentiment_sign_agreement": ss, "sentiment_significant_share": sg, "n_runs": len(items),
                     "stable": bool(stable)})
    return pd.DataFrame(rows)
