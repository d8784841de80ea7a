"""Refit the theme pipeline over seeds and subsamples, and say how stable each theme and finding is.

What does not change between reruns is computed once and shared (the "cheap" path, the default):

* the embeddings (by the caller) and the lemmas (:class:`LemmaLookup`: spaCy never runs in a rerun);
* the codebook part of the themes: a quote's codebook scores and themes depend on that quote alone, so a
  rerun slices them from the reference (:func:`stakeholder_nlp.themes.assign.refit_themes`); no embedder is
  needed in a rerun, so runs go to worker processes (``n_jobs``) on every backend (an OpenVINO compiled
  model is never sent to a worker);
* seed reruns of a model whose themes do not depend on the seed (the default ``TopicModel`` methods,
  ``"consensus"`` and ``"agglomerative"``): the themes are the reference's, only the statistics are
  recomputed with the run's seed. ``cheap=False`` refits everything from scratch, as before; the tests
  check that both give the same tables.

Row order does not matter: every draw is made over the quotes in a canonical order (wave, then speaker
key, then quote key: the quote ids when the caller passes ``keys``, else the texts; :func:`canonical_order`),
and each rerun sees its quotes in that order, so any row order of the input gives the same tables, the same
consensus labelling (per quote) and the same panel, as the bootstrap weights in :mod:`stakeholder_nlp.shift`
are tied to sorted speaker keys.

Large corpora: the subsamples are drawn from a *panel* of at most ``max_quotes`` quotes (a seeded,
wave-stratified sample; default :data:`DEFAULT_MAX_QUOTES`); each subsample keeps ``resample`` of the
panel's quotes in each wave. The cost of stability is then flat in the corpus size, and the estimate
describes themes fitted on ``resample × max_quotes`` quotes: a conservative figure for the full-data
themes (fitted on more quotes, which are at least as stable), and the significant share of a finding is
judged at the panel's size (fewer quotes: less power).

:class:`StabilityResult` holds

``runs`` (DataFrame): ``run``, ``kind`` (``seed`` or ``subsample``), ``seed``, ``n_quotes``, ``n_topics``,
    ``refit`` (False for a seed rerun that reused the reference themes).
``summary`` (DataFrame, one row per kind): ``kind``, ``n_runs``, ``ari_mean``, ``ari_min``, ``nmi_mean``,
    ``aj_mean`` (average Jaccard of top-10 terms), ``n_topics_min``, ``n_topics_max``.
``themes`` (DataFrame, one row per theme of the full-data run): ``theme_id``, ``member_stability`` (mean
    best Jaccard of its members with a theme of each rerun), ``reappearance`` (share of reruns in which a
    theme with member Jaccard ≥ ``reappear_at`` is found).
``findings`` (DataFrame, one row per theme): ``theme_id``, ``prevalence_sign_agreement``,
    ``prevalence_significant_share``, ``sentiment_sign_agreement``, ``sentiment_significant_share``,
    ``n_runs``, ``stable`` (sign agrees in at least ``stable_share`` of runs and, if the full-data
    finding is significant, stays significant that often too).
``consensus`` (ndarray): the consensus labelling of the inductive topics over the subsample reruns
    (co-association on the panel, every other quote to the nearest consensus centroid; -1 where none).
``panel`` (ndarray): positions of the quotes the subsamples were drawn from (ascending).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..shift import prevalence_shift, primary
from ..themes import ThemeResult, TopicModel, fit_themes
from ..themes.assign import refit_themes
from .metrics import (
    average_jaccard,
    consensus_labels,
    pairwise_partition_agreement,
    theme_member_stability,
    theme_reappearance,
)

#: subsamples are drawn from a panel of at most this many quotes (see the module docstring)
DEFAULT_MAX_QUOTES = 2_500
#: ``TopicModel`` methods whose themes do not depend on ``random_state``
SEED_FREE_METHODS = ("agglomerative", "consensus")
#: ``n_jobs=None`` runs the reruns in worker processes (one per available core) from this many quotes:
#: below it a worker's start-up (a fresh interpreter importing the stack, a few CPU-seconds) costs more
#: than the reruns it would share
PARALLEL_MIN_QUOTES = 2_000


@dataclass(frozen=True, slots=True)
class StabilityResult:
    runs: pd.DataFrame
    summary: pd.DataFrame
    themes: pd.DataFrame
    findings: pd.DataFrame
    consensus: np.ndarray
    panel: np.ndarray | None = None


class LemmaLookup:
    """A lemmatizer over precomputed lemmas (each run would otherwise re-run spaCy on the same quotes).

    ``fallback``: a lemmatizer for texts outside the precomputed ones (the bulk pass of a large corpus reads a
    sample: :func:`~stakeholder_nlp.themes.terms.lemma_sample`); their lemmas are computed on first use and
    kept. Without one, such texts have no lemmas ('')."""

    def __init__(self, texts: Sequence[str], lemmas: Sequence[str], fallback: Callable | None = None) -> None:
        self._map = dict(zip(texts, lemmas, strict=True))
        self._pending = None
        self._fallback = fallback

    @classmethod
    def deferred(cls, texts: Sequence[str], pending, fallback: Callable | None = None) -> LemmaLookup:
        """A lookup over lemmas still being computed (:meth:`~stakeholder_nlp.themes.terms.Lemmatizer.start`):
        its first use waits for them, so the caller works meanwhile (the pipeline clusters the topics)."""
        out = cls((), (), fallback)
        out._pending = (list(texts), pending)
        return out

    def _ready(self) -> dict[str, str]:
        if self._pending is not None:
            texts, pending = self._pending
            self._map = dict(zip(texts, pending.result(), strict=True))
            self._pending = None
        return self._map

    def _fill(self, texts: Sequence[str]) -> dict[str, str]:
        lemmas = self._ready()
        if self._fallback is not None:
            missing = [t for t in dict.fromkeys(texts) if t not in lemmas]
            if missing:
                lemmas.update(zip(missing, self._fallback(missing), strict=True))
        return lemmas

    def __getstate__(self) -> dict:  # what travels to a worker: the lemmas, never the pending work
        return {"_map": self._ready(), "_pending": None, "_fallback": None}

    def __setstate__(self, state: dict) -> None:
        self._map, self._pending, self._fallback = state["_map"], None, None

    def __call__(self, texts: Sequence[str]) -> list[str]:
        lemmas = self._fill(texts)
        return [lemmas.get(t, "") for t in texts]

    def known(self, texts: Sequence[str]) -> list[str]:
        """The lemmas already computed for ``texts`` ('' for the others: nothing is lemmatised here)."""
        lemmas = self._ready()
        return [lemmas.get(t, "") for t in texts]

    def subset(self, texts: Sequence[str]) -> LemmaLookup:
        """The lookup restricted to ``texts`` (what a worker process needs; missing ones filled first)."""
        self._fill(texts)
        keep = set(texts)
        out = LemmaLookup((), ())
        out._map = {t: v for t, v in self._map.items() if t in keep}
        return out


def canonical_order(waves: Sequence, speakers: Sequence, keys: Sequence) -> np.ndarray:
    """Positions of the rows sorted by wave, speaker key (named speakers by name, then unattributed quotes)
    and quote key (``keys``: quote ids, or texts); rows equal on all three stay in input order (identical
    rows, interchangeable). The same rows in any order give the same sequence of (wave, speaker, key)."""
    from ..shift.inference import is_missing_speaker

    def codes(values) -> np.ndarray:
        return pd.factorize(pd.Series(values, dtype=object), sort=True)[0]

    wave = codes([str(w) for w in waves])
    speaker = codes(["\x01" if is_missing_speaker(s) else f"\x00{s}" for s in speakers])
    key = codes([str(k) for k in keys])
    return np.lexsort((np.arange(len(wave)), key, speaker, wave))


def _subsample(canon: np.ndarray, waves: np.ndarray, fraction: float, rng: np.random.Generator,
               pool: np.ndarray | None = None) -> np.ndarray:
    """In each wave (sorted), ``fraction`` of its quotes (at least 2), drawn over the quotes in canonical
    order ``canon`` (restricted to ``pool``); returned in canonical order: the draw and the order a rerun
    sees do not depend on the row order of the input."""
    cand = canon if pool is None else canon[np.isin(canon, pool)]
    keep = []
    for w in pd.unique(waves[cand]):  # canonical order is wave-major: waves in sorted order
        idx = cand[waves[cand] == w]
        keep.append(rng.choice(idx, size=min(len(idx), max(2, int(round(fraction * len(idx))))), replace=False))
    chosen = np.concatenate(keep)
    rank = np.empty(len(canon), dtype=np.int64)
    rank[canon] = np.arange(len(canon))
    return chosen[np.argsort(rank[chosen], kind="stable")]


def _topic_template(topic_model: TopicModel | None, n_topics) -> TopicModel:
    return topic_model if topic_model is not None else TopicModel(n_topics)


def _clone(template: TopicModel, seed: int, lemmatizer) -> TopicModel:
    params = template.get_params()
    params.update(random_state=seed, embedder=None, lemmatizer=lemmatizer)
    return TopicModel(**params)


def _stats(res: ThemeResult, idx, waves, speakers, scores, n_boot, seed, order):
    pair = {"wave_order": order, "wave_a": order[0], "wave_b": order[-1]}  # first -> last only
    spk = [speakers[i] for i in idx]
    shift = prevalence_shift(res.membership, waves[idx], spk, n_boot=n_boot, seed=seed, **pair)
    sent = None
    if scores is not None:
        from ..sentiment import sentiment_shift

        sent = sentiment_shift(res.membership, scores[idx], waves[idx], spk, **pair)
    return shift, sent


def _one_run(args):
    """One rerun. Cheap: the reference's codebook part and (``refit=False``) its themes are reused.

    A refit receives the rows of its quotes only (:func:`_rows_of`): a worker process never holds the whole
    corpus (at a million quotes each would otherwise unpickle every text, speaker and theme score)."""
    (idx, seed, refit, texts, emb, reference, template, lemmatizer, waves, speakers, scores, n_boot, order,
     full) = args
    if not refit:
        res = reference
        rows = idx
    else:
        rows = np.arange(len(idx))  # the job's data are its quotes' rows, in idx's order
        if full is not None:  # the from-scratch path: embedder, codebook calibration, spaCy
            codebook, mode, embedder = full
            res = fit_themes(texts, emb, codebook=codebook, mode=mode, embedder=embedder,
                             topic_model=_clone(template, seed, None), random_state=seed)
        else:
            res = refit_themes(reference, rows, texts, emb, topic_model=_clone(template, seed, lemmatizer))
    shift, sent = _stats(res, rows, waves, speakers, scores, n_boot, seed, order)
    terms = res.themes.loc[res.themes["kind"] == "topic", "terms"].tolist()
    return idx, res, shift, sent, terms


def _rows_of(reference: ThemeResult, idx: np.ndarray, texts, emb, waves, speakers, scores):
    """The quotes at ``idx`` (in that order): their texts, vectors, waves, speakers, scores, and the
    reference's per-quote tables restricted to them."""
    from dataclasses import replace

    sub = replace(reference, membership=reference.membership.iloc[idx].reset_index(drop=True),
                  scores=reference.scores.iloc[idx].reset_index(drop=True),
                  topic_labels=np.asarray(reference.topic_labels)[idx])
    return ([texts[i] for i in idx], np.ascontiguousarray(emb[idx]), sub, waves[idx], [speakers[i] for i in idx],
            None if scores is None else np.asarray(scores)[idx])


def run_stability(texts: Sequence[str], embeddings: np.ndarray, waves: Sequence, speakers: Sequence, *,
                  reference: ThemeResult, codebook=None, mode: str | None = None, embedder=None,
                  sentiment_scores: np.ndarray | None = None, runs: int = 10, resample: float = 0.8,
                  seed: int = 0, n_topics: int | str = "auto", lemmatizer: Callable | None = None,
                  n_boot: int = 500, n_jobs: int | None = None, stable_share: float = 0.8, alpha: float = 0.05,
                  progress: bool = False, reference_shifts: pd.DataFrame | None = None,
                  reference_sentiment_shifts: pd.DataFrame | None = None,
                  wave_order: Sequence | None = None, topic_model: TopicModel | None = None,
                  max_quotes: int | None = DEFAULT_MAX_QUOTES, cheap: bool = True,
                  reappear_at: float = 0.5, keys: Sequence | None = None) -> StabilityResult:
    """``runs`` seed reruns and ``runs`` subsample reruns of the themes and their shift statistics.

    ``reference_shifts``/``reference_sentiment_shifts``: the full-data shift tables, when the caller has
    them already (the pipeline does); otherwise they are computed here. ``topic_model``: the (unfitted)
    model whose parameters the reruns copy (default ``TopicModel(n_topics)``). ``max_quotes``: the panel
    size above which subsamples come from a panel (``None``: never). ``cheap=False``: refit everything from
    scratch in every run (needs ``embedder`` with a codebook; slow; for checking the cheap path).
    ``n_jobs``: worker processes for the reruns (``None``: one per available core from
    :data:`PARALLEL_MIN_QUOTES` quotes, else 1); the reruns are independent and seeded, so the tables do
    not depend on it. ``keys``: one unique key per quote (the quote ids) for the canonical order the draws
    are made in (default: the texts; identical quotes of one speaker in one wave then keep their input order).
    """
    texts = list(texts)
    emb = np.asarray(embeddings, dtype=np.float32)
    from ..corpus.waves import as_wave_order

    order = as_wave_order(pd.Series(list(waves), dtype=object) if not isinstance(waves, pd.Series) else waves,
                          wave_order).levels
    waves = np.asarray(list(waves), dtype=object)
    speakers = list(speakers)
    n = len(texts)
    template = _topic_template(topic_model, n_topics)
    rng = np.random.default_rng(seed)
    if keys is not None and len(keys) != n:
        raise ValueError(f"keys has {len(keys)} entries for {n} quotes; expected one key (quote id) per quote")
    canon = canonical_order(waves, speakers, texts if keys is None else list(keys))
    panel = None
    if max_quotes is not None and n > max_quotes:
        panel = np.sort(_subsample(canon, waves, max_quotes / n, np.random.default_rng([seed, 1])))
    seed_free = cheap and template.method in SEED_FREE_METHODS
    # a refitted seed rerun sees every quote in canonical order; one that reuses the reference keeps its rows
    plan = [("seed", np.arange(n) if seed_free else canon, seed + 1 + r, not seed_free) for r in range(runs)]
    plan += [("subsample", _subsample(canon, waves, resample, rng, panel), seed, True) for _ in range(runs)]
    if lemmatizer is None:
        from ..themes.terms import Lemmatizer

        lemmatizer = LemmaLookup(texts, Lemmatizer()(texts))
    full = None if cheap else (codebook, mode or reference.mode, embedder)
    if panel is not None and isinstance(lemmatizer, LemmaLookup):
        lemmatizer = lemmatizer.subset([texts[i] for i in panel])
    jobs = []
    for _, idx, s, refit in plan:
        if refit:
            t, e, ref, w, sp, sc = _rows_of(reference, idx, texts, emb, waves, speakers, sentiment_scores)
            jobs.append((idx, s, refit, t, e, ref, template, lemmatizer, w, sp, sc, n_boot, order, full))
        else:  # the reference's themes on every quote: statistics only, run here (no copy of the corpus)
            jobs.append((idx, s, refit, texts, emb, reference, template, lemmatizer, waves, speakers,
                         sentiment_scores, n_boot, order, full))
    if n_jobs is None:
        from ..themes.terms import available_cores

        n_jobs = available_cores() if n >= PARALLEL_MIN_QUOTES and cheap else 1
    if n_jobs != 1:
        from joblib import Parallel, delayed

        if not cheap and embedder is not None:  # a compiled model cannot travel: the workers load none
            raise ValueError("cheap=False with n_jobs != 1 would send the embedder to worker processes; "
                             "use cheap=True (the default) or n_jobs=1")
        # the refits (minutes at scale) in the workers, each sent its own quotes' rows; the reruns that reuse
        # the reference's themes read every quote, so they stay here and share this process's arrays
        first = [i for i in range(len(jobs)) if jobs[i][2]]
        outputs = [None] * len(jobs)
        for i, out in zip(first, Parallel(n_jobs=n_jobs)(delayed(_one_run)(jobs[i]) for i in first), strict=True):
            outputs[i] = out
        for i in range(len(jobs)):
            if outputs[i] is None:
                outputs[i] = _one_run(jobs[i])
    else:
        iterator = jobs
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(jobs, desc="stability runs", unit="run")
        outputs = [_one_run(j) for j in iterator]

    ref_shift = reference_shifts
    if ref_shift is None:
        ref_shift = prevalence_shift(reference.membership, waves, speakers, n_boot=n_boot, seed=seed,
                                     wave_order=order)
    ref_sent = reference_sentiment_shifts
    if ref_sent is None and sentiment_scores is not None:
        from ..sentiment import sentiment_shift

        ref_sent = sentiment_shift(reference.membership, sentiment_scores, waves, speakers, wave_order=order)
    run_rows, summary_rows = [], []
    by_kind: dict[str, list] = {"seed": [], "subsample": []}
    for (kind, _idx, s, refit), (idx2, res, shift, sent, terms) in zip(plan, outputs, strict=True):
        by_kind[kind].append((idx2, res, shift, sent, terms))
        run_rows.append({"run": len(run_rows), "kind": kind, "seed": s, "n_quotes": len(idx2),
                         "n_topics": int((res.themes["kind"] == "topic").sum()), "refit": bool(refit)})
    for kind, items in by_kind.items():
        if not items:
            continue
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
    themes = _theme_stability(reference, all_items, reappear_at)
    findings = _finding_stability(reference, ref_shift, ref_sent, all_items, stable_share, alpha)
    consensus = _consensus(reference, emb, by_kind["subsample"], canon)
    return StabilityResult(pd.DataFrame(run_rows), pd.DataFrame(summary_rows), themes, findings, consensus, panel)


def _theme_stability(reference: ThemeResult, items, reappear_at: float) -> pd.DataFrame:
    """Member stability and reappearance: topics against each run's topics, codebook themes against the
    run's members of the same theme."""
    n = len(reference.topic_labels)
    ref_run = (np.arange(n), reference.topic_labels)
    runs = [(idx, res.topic_labels) for idx, res, *_ in items]
    topic_stab = theme_member_stability(ref_run, runs)
    topic_back = theme_reappearance(ref_run, runs, at=reappear_at)
    rows = []
    for _, row in reference.themes.iterrows():
        tid = row["theme_id"]
        if row["kind"] == "topic":
            t = int(tid.rsplit("_", 1)[1])
            rows.append({"theme_id": tid, "member_stability": topic_stab.get(t, np.nan),
                         "reappearance": topic_back.get(t, np.nan)})
        else:
            ref_m = reference.membership[tid].to_numpy()
            vals = []
            for idx, res, *_ in items:
                a, b = ref_m[idx], res.membership[tid].to_numpy()
                vals.append((a & b).sum() / max((a | b).sum(), 1))
            rows.append({"theme_id": tid, "member_stability": float(np.mean(vals)) if vals else np.nan,
                         "reappearance": float(np.mean(np.asarray(vals) >= reappear_at)) if vals else np.nan})
    return pd.DataFrame(rows, columns=["theme_id", "member_stability", "reappearance"])


def _consensus(reference: ThemeResult, emb: np.ndarray, items, canon: np.ndarray) -> np.ndarray:
    """Co-association consensus of the subsample reruns' topics on the panel (memory: panel²), cut at the
    median number of topics; quotes outside the panel go to the nearest consensus centroid. The covered
    quotes are taken in canonical order ``canon``, so the labels do not depend on the row order."""
    n = len(reference.topic_labels)
    consensus = np.full(n, -1)
    topic_runs = [(idx[res.topic_labels >= 0], res.topic_labels[res.topic_labels >= 0]) for idx, res, *_ in items]
    topic_runs = [r for r in topic_runs if len(r[0])]
    if not topic_runs:
        return consensus
    k = int(np.median([len(np.unique(lab)) for _, lab in topic_runs]))
    seen = np.zeros(n, dtype=bool)
    seen[np.concatenate([i for i, _ in topic_runs])] = True
    covered = canon[seen[canon]]
    if k < 2 or len(covered) <= k:
        return consensus
    local_of = np.full(n, -1)
    local_of[covered] = np.arange(len(covered))
    local = [(local_of[idx], lab) for idx, lab in topic_runs]
    consensus[covered] = consensus_labels(local, len(covered), k)
    # quotes the topic model saw in the full run but no subsample covered: nearest consensus centroid
    rest = np.setdiff1d(np.flatnonzero(reference.topic_labels >= 0), covered)
    if len(rest):
        ids = np.unique(consensus[covered])
        cent = np.stack([emb[covered[consensus[covered] == t]].mean(0) for t in ids])
        cent /= np.linalg.norm(cent, axis=1, keepdims=True)
        for start in range(0, len(rest), 20_000):
            block = rest[start:start + 20_000]
            consensus[block] = ids[(emb[block] @ cent.T).argmax(1)]
    return consensus


def _match_topics(reference: ThemeResult, idx: np.ndarray, res: ThemeResult) -> dict[str, str]:
    """Map each reference topic theme to the run's theme with the largest member overlap."""
    out = {}
    ref_topics = reference.themes.loc[reference.themes["kind"] == "topic", "theme_id"].tolist()
    run_topics = res.themes.loc[res.themes["kind"] == "topic", "theme_id"].tolist()
    if not ref_topics or not run_topics:
        return out
    a = reference.membership[ref_topics].to_numpy(dtype=bool)[idx].astype(np.float32)  # (m, R)
    b = res.membership[run_topics].to_numpy(dtype=bool).astype(np.float32)  # (m, U)
    inter = a.T @ b
    union = a.sum(0)[:, None] + b.sum(0)[None, :] - inter
    jac = inter / np.maximum(union, 1)
    for r, tid in enumerate(ref_topics):
        u = int(np.argmax(jac[r]))
        if jac[r, u] > 0:
            out[tid] = run_topics[u]
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
        ps = float(np.mean(prev_sign)) if prev_sign else np.nan
        pg = float(np.mean(prev_sig)) if prev_sig else np.nan
        ss = float(np.mean(sent_sign)) if sent_sign else np.nan
        sg = float(np.mean(sent_sig)) if sent_sig else np.nan
        stable = ps >= stable_share and (not bool(ref_shift.loc[tid, "share_significant"]) or pg >= stable_share)
        rows.append({"theme_id": tid, "prevalence_sign_agreement": ps, "prevalence_significant_share": pg,
                     "sentiment_sign_agreement": ss, "sentiment_significant_share": sg, "n_runs": len(items),
                     "stable": bool(stable)})
    return pd.DataFrame(rows)
