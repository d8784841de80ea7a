"""Subthemes: a second level of themes, fitted within each top-level theme on that theme's quotes.

The top level (:class:`~.topics.TopicModel`, or a codebook) gives a few stable themes; a team that codes
a survey of thousands writes a two-level framework (NHS frameworks: 9 labels over 44 subcategories). Here,
every top-level theme with enough quotes and speakers is split by the criterion the top level uses, on its
own quotes: its quotes are put in a canonical order (hash of text and vector), reduced by PCA, and k is
chosen by excess stability plus silhouette with the one-standard-error plateau
(:meth:`TopicModel._choose_k <stakeholder_nlp.themes.topics.TopicModel._choose_k>`), the subthemes are the
consensus of hash-fold subsample fits (:func:`~.topics._bagged`). Nothing here depends on the seed or on
the row order, and the number of subthemes grows with the theme's size: the candidates are ``2 ..
max_subthemes(n) = min(40, sqrt(n) / 2)`` (:func:`max_subthemes`; also at most the fit sample over
:data:`MIN_SUBTHEME_QUOTES`), so a theme of 400 quotes may have up to 10, one of 6,400 or more up to 40.

Rules, with their numbers:

* a quote's top theme is its primary theme (:meth:`~.assign.ThemeResult.primary`: exactly one per quote,
  none only where a codebook coded nothing); subthemes never change it;
* a theme is split only with at least :data:`MIN_QUOTES` quotes from at least :data:`MIN_SPEAKERS` speakers
  (quotes without speakers count as one speaker each), and only when the chosen split scores above
  :data:`MIN_SCORE` (excess stability + silhouette; a structureless theme scores about 0); otherwise it has
  no subthemes (``placement`` ``"unsplit"``, with the reason in :attr:`SubthemeResult.splits`);
* cost is bounded: each theme is fitted on :data:`FIT_QUOTES_PER_SUBTHEME` quotes per candidate subtheme
  (``30 x max_subthemes(n)``), at least :data:`MIN_FIT_QUOTES` and at most :data:`MAX_FIT_QUOTES` (1,200),
  the quotes whose hash comes first (:func:`fit_sample_size`); then all its quotes are assigned to the
  nearest subtheme centroid (cosine, in the embedding space) in blocks of 20,000;
* a quote whose cosine to its nearest subtheme centroid is below the :data:`FAR_QUANTILE` (5%) quantile of
  the cosines of all the theme's quotes stays in its parent theme only (``placement`` ``"parent"``): 5% of
  each split theme's quotes (ties aside), so 5% are unassigned at the subtheme level (the goal: at most
  10%), 0% at the top. The quantile is taken over every quote of the theme, not the fit sample alone: a
  fit-sample quote is part of its own centroid, so its cosine is higher than an unseen quote's, and a
  threshold from the fit sample left 14.5% of the split themes' quotes below it on a 100,000-comment corpus;
* labels: the best phrases of each subtheme against its siblings (:func:`~.labels.phrase_labels`: spaCy
  phrase candidates weighted by centrality, distinctiveness among the siblings), then, given an embedder,
  re-ranked for coverage and diversity on the embeddings (MMR: similarity to the subtheme centroid, minus
  0.3 x the largest similarity to a phrase already chosen); a subtheme with no phrase (answers such as
  "Everything is fine.") is named by its most central quote of at most eight words, in quotation marks.

Ids are ``<theme_id>.<k>`` (``topic_3.1`` is the largest subtheme of ``topic_3``).

:class:`SubthemeResult` holds ``subthemes`` (:data:`SUBTHEME_COLUMNS`), ``quotes`` (one row per quote in corpus
order, :data:`QUOTE_SUBTHEME_COLUMNS`) and ``splits`` (one row per top-level theme, :data:`SPLIT_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..embedding.base import unit_rows

#: a theme needs at least this many quotes to be split
MIN_QUOTES = 60
#: ... from at least this many distinct speakers
MIN_SPEAKERS = 10
#: a subtheme candidate k needs a median subtheme of at least this many quotes (and 1% of the theme's fit sample)
MIN_SUBTHEME_QUOTES = 10
#: the chosen split must score above this (excess stability + silhouette) to be kept
MIN_SCORE = 0.05
#: candidate k per theme: 2 .. min(MAX_SUBTHEMES, sqrt(n) / SUBTHEME_SQRT_DIVISOR, fit sample / MIN_SUBTHEME_QUOTES)
MAX_SUBTHEMES = 40
#: the candidates grow as the square root of the theme's size over this
SUBTHEME_SQRT_DIVISOR = 2.0
#: fit-sample quotes per candidate subtheme (at the largest candidate k)
FIT_QUOTES_PER_SUBTHEME = 30
#: each theme is fitted on at least this many of its quotes (all of them when it has fewer) ...
MIN_FIT_QUOTES = 500
#: ... and at most this many
MAX_FIT_QUOTES = FIT_QUOTES_PER_SUBTHEME * MAX_SUBTHEMES
#: a quote below this quantile of its theme's cosines to their nearest subtheme centroid stays in the parent
FAR_QUANTILE = 0.05
#: hash folds for choosing k and subsample fits of the consensus within a theme
STABILITY_DRAWS = 4
_BLOCK = 20_000

#: columns of :attr:`SubthemeResult.subthemes`
SUBTHEME_COLUMNS = ("subtheme_id", "parent_id", "label", "n_quotes", "n_fit", "phrases", "representative")
#: columns of :attr:`SubthemeResult.quotes`
QUOTE_SUBTHEME_COLUMNS = ("theme_id", "subtheme", "subtheme_label", "placement", "similarity")
#: ``placement`` values: in a subtheme; far from every subtheme of a split theme (kept in the parent); in a
#: theme that was not split; in no top-level theme
PLACEMENTS = ("subtheme", "parent", "unsplit", "none")
#: columns of :attr:`SubthemeResult.splits`
SPLIT_COLUMNS = ("theme_id", "n_quotes", "n_speakers", "n_subthemes", "score", "threshold", "reason")


@dataclass(frozen=True, slots=True)
class SubthemeResult:
    subthemes: pd.DataFrame
    quotes: pd.DataFrame
    splits: pd.DataFrame

    def children(self, theme_id: str) -> list[str]:
        """Subtheme ids of a top-level theme, largest first (empty when it was not split)."""
        s = self.subthemes
        return s.loc[s["parent_id"] == theme_id, "subtheme_id"].tolist()

    def membership(self, index=None) -> pd.DataFrame:
        """One boolean column per subtheme (in :attr:`subthemes` order): the quotes placed in it (``placement``
        ``subtheme``; a quote kept in its parent is in no subtheme). ``index``: the rows' index (default 0..n-1)."""
        sub = self.quotes["subtheme"].to_numpy(dtype=object)
        cols = {s: sub == s for s in self.subthemes["subtheme_id"]}
        return pd.DataFrame(cols, index=pd.RangeIndex(len(sub)) if index is None else index, dtype=bool)

    def parents(self) -> dict[str, str]:
        """Subtheme id -> its parent theme id."""
        return dict(zip(self.subthemes["subtheme_id"], self.subthemes["parent_id"], strict=True))

    def unassigned_share(self) -> float:
        """Share of the quotes in split themes that are near no subtheme (kept in their parent)."""
        p = self.quotes["placement"]
        inside = p.isin(["subtheme", "parent"]).sum()
        return float((p == "parent").sum() / inside) if inside else 0.0


def max_subthemes(n: int) -> int:
    """The largest candidate number of subthemes of a theme of ``n`` quotes: ``min(MAX_SUBTHEMES,
    max(2, round(sqrt(n) / SUBTHEME_SQRT_DIVISOR)))`` (before the fit sample's own bound)."""
    return int(min(MAX_SUBTHEMES, max(2, round(np.sqrt(n) / SUBTHEME_SQRT_DIVISOR))))


def fit_sample_size(n: int, max_fit_quotes: int = MAX_FIT_QUOTES) -> int:
    """How many of a theme's ``n`` quotes its subthemes are fitted on: :data:`FIT_QUOTES_PER_SUBTHEME` per
    candidate subtheme, at least :data:`MIN_FIT_QUOTES`, at most ``max_fit_quotes``, at most ``n``."""
    want = max(MIN_FIT_QUOTES, FIT_QUOTES_PER_SUBTHEME * max_subthemes(n))
    return int(min(n, max(1, max_fit_quotes), want))


def fit_subthemes(texts: Sequence[str], embeddings: np.ndarray, top: Sequence[str], *,
                  speakers: Sequence | None = None, labels: Mapping[str, str] | None = None,
                  known: Mapping[str, dict[str, str]] | None = None, nlp=None,
                  embed: Callable[[list[str]], np.ndarray] | None = None,
                  min_quotes: int = MIN_QUOTES, min_speakers: int = MIN_SPEAKERS,
                  max_fit_quotes: int = MAX_FIT_QUOTES, phrase_labels: bool = True) -> SubthemeResult:
    """Subthemes within each top-level theme.

    ``top``: each quote's top-level theme id ('' for none); ``speakers``: each quote's speaker (default: one
    per quote); ``labels``: top theme id -> its label (the fallback name of a subtheme without phrases);
    ``known``: text -> its phrase candidates (the themes stage's ``phrase_candidates``); ``nlp``: the spaCy
    pipeline for texts not in ``known``; ``embed``: ``list[str] -> unit vectors`` of the same embedder, for
    the labels' MMR (without it the phrase order is kept); ``phrase_labels=False``: labels are the parent's
    label and the subtheme's number (no spaCy); ``max_fit_quotes``: the most quotes of one theme fitted on
    (:func:`fit_sample_size`).
    """
    from threadpoolctl import threadpool_limits

    texts = [str(t) for t in texts]
    x = np.asarray(embeddings, dtype=np.float32)
    top = np.asarray([str(t) if t is not None else "" for t in top], dtype=object)
    n = len(texts)
    if x.ndim != 2 or len(x) != n or len(top) != n:
        raise ValueError(f"texts, embeddings and top must have one row per quote; got {n} texts, embeddings "
                         f"{x.shape}, {len(top)} top-level themes")
    xn = unit_rows(x)  # the embedders' vectors as they are (no copy), else normalised
    spk = np.arange(n) if speakers is None else pd.factorize(pd.Series(list(speakers), dtype=object))[0]
    missing = spk < 0  # a quote without a speaker (None, NaN) counts as its own speaker
    spk[missing] = spk.max(initial=-1) + 1 + np.arange(int(missing.sum()))
    sub = np.full(n, "", dtype=object)
    placement = np.where(top == "", "none", "unsplit").astype(object)
    sim_out = np.full(n, np.nan)
    sub_rows, split_rows = [], []
    groups: dict[str, np.ndarray] = {}
    with threadpool_limits(1):  # many small k-means fits: one BLAS thread is faster and the same everywhere
        for tid in sorted(set(top.tolist()) - {""}):
            idx = np.flatnonzero(top == tid)
            n_spk = int(len(np.unique(spk[idx])))
            row = {"theme_id": tid, "n_quotes": len(idx), "n_speakers": n_spk, "n_subthemes": 0,
                   "score": np.nan, "threshold": np.nan}
            if len(idx) < min_quotes or n_spk < min_speakers:
                split_rows.append({**row, "reason": f"too few quotes or speakers to split (needs {min_quotes} "
                                                    f"quotes from {min_speakers} speakers)"})
                continue
            fit = _split(texts, xn, idx, max_fit_quotes)
            if fit is None:
                split_rows.append({**row, "reason": "no stable split"})
                continue
            members, centroids, score, n_fit = fit
            if score <= MIN_SCORE:
                split_rows.append({**row, "score": score, "reason": f"no stable split (score {score:.3f} <= "
                                                                    f"{MIN_SCORE})"})
                continue
            # every quote of the theme to the nearest centroid, in blocks; the far ones stay in the parent
            best = np.empty(len(idx), dtype=np.int64)
            sims = np.empty(len(idx))
            for s0 in range(0, len(idx), _BLOCK):
                blk = xn[idx[s0:s0 + _BLOCK]] @ centroids.T
                best[s0:s0 + _BLOCK] = blk.argmax(1)
                sims[s0:s0 + _BLOCK] = blk.max(1)
            # over all the theme's quotes: a fit-sample quote is part of its own centroid (its cosine is high)
            threshold = float(np.quantile(sims, FAR_QUANTILE))
            far = sims < threshold
            # subtheme ids by size (desc), ties by the canonical position of the first member
            ks = np.arange(len(centroids))
            sizes = np.array([int(((best == k) & ~far).sum()) for k in ks])
            rank = sorted((k for k in ks if sizes[k] > 0), key=lambda k: (-sizes[k], members["first"][k]))
            sids = {int(k): f"{tid}.{j + 1}" for j, k in enumerate(rank)}
            for k in rank:
                pos = idx[(best == k) & ~far]
                groups[sids[int(k)]] = pos
                order = np.argsort(-(xn[pos] @ centroids[k]), kind="stable")[:5]
                sub_rows.append({"subtheme_id": sids[int(k)], "parent_id": tid, "label": "", "n_quotes": len(pos),
                                 "n_fit": int(members["n_fit"][k]), "phrases": [],
                                 "representative": [int(i) for i in pos[order]]})
            inside = ~far & np.isin(best, rank)
            sub[idx[inside]] = [sids[int(k)] for k in best[inside]]
            placement[idx] = "parent"
            placement[idx[inside]] = "subtheme"
            sim_out[idx] = sims
            split_rows.append({**row, "n_subthemes": len(rank), "score": score, "threshold": threshold,
                               "reason": "split"})
    subthemes = pd.DataFrame(sub_rows, columns=list(SUBTHEME_COLUMNS))
    if len(subthemes):
        _label(subthemes, groups, texts, xn, labels or {}, known, nlp, embed, phrase_labels)
    label_of = dict(zip(subthemes["subtheme_id"], subthemes["label"], strict=True))
    quotes = pd.DataFrame({"theme_id": top, "subtheme": sub, "subtheme_label": [label_of.get(s, "") for s in sub],
                           "placement": placement, "similarity": np.round(sim_out, 6)},
                          columns=list(QUOTE_SUBTHEME_COLUMNS))
    return SubthemeResult(subthemes=subthemes, quotes=quotes, splits=pd.DataFrame(split_rows, columns=list(SPLIT_COLUMNS)))


def _split(texts, xn, idx, max_fit):
    """The top level's k choice and consensus on one theme's quotes (canonical order, bounded fit sample).
    Returns (members info, unit centroids in the embedding space, score of the chosen k, fit size) or None."""
    from sklearn.decomposition import PCA

    from .topics import TopicModel, _bagged, _hash_keys

    keys_all = _hash_keys([texts[i] for i in idx], xn[idx])
    order = np.lexsort((np.arange(len(idx)), keys_all))  # canonical order: row order cannot matter
    keys = keys_all[order]
    m = fit_sample_size(len(idx), max_fit)
    fit_pos = order if m >= len(idx) else order[np.sort(np.argsort(keys % 2_147_483_629, kind="stable")[:m])]
    fit_keys = keys_all[fit_pos]
    xf = xn[idx[fit_pos]]
    m = len(xf)
    n_comp = int(min(30, m - 1, xf.shape[1]))
    z = PCA(n_components=n_comp, svd_solver="full").fit_transform(xf)
    hi = int(min(max_subthemes(len(idx)), m // MIN_SUBTHEME_QUOTES))
    if hi < 2:
        return None
    model = TopicModel(k_range=(2, hi), min_topic_size=max(MIN_SUBTHEME_QUOTES, m // 100),
                       stability_draws=STABILITY_DRAWS)
    k, scores = model._choose_k(z, fit_keys, len(idx))
    labels, _ = _bagged(z, k, fit_keys, STABILITY_DRAWS)
    found = np.unique(labels)
    if len(found) < 2:
        return None
    cent = np.stack([xf[labels == t].mean(0) for t in found])
    cent /= np.linalg.norm(cent, axis=1, keepdims=True)
    rank_in_canon = np.empty(len(idx), dtype=np.int64)
    rank_in_canon[order] = np.arange(len(idx))
    # the canonical position of each subtheme's first fit member (ties in the size order)
    first = [int(rank_in_canon[fit_pos[labels == t]].min()) for t in found]
    n_fit = [int((labels == t).sum()) for t in found]
    return {"first": first, "n_fit": n_fit}, cent, float(scores[k]), m


def _label(subthemes: pd.DataFrame, groups: dict[str, np.ndarray], texts, xn, parent_labels, known, nlp, embed,
           use_phrases: bool) -> None:
    """Fill ``label`` and ``phrases`` in place: phrases against the siblings, MMR on the embeddings."""
    from .labels import label_from_phrases, phrase_labels

    labels, phrases_col = [], []
    by_parent = subthemes.groupby("parent_id", sort=False)["subtheme_id"].apply(list).to_dict()
    found: dict[str, list[str]] = {}
    if use_phrases:
        for _parent, sids in by_parent.items():
            found.update(phrase_labels(texts, {s: groups[s] for s in sids}, xn, nlp=nlp, known=known,
                                       n_phrases=8, max_docs=100))
    if embed is not None and found:
        found = _mmr(found, groups, xn, embed)
    for sid, parent, rep in zip(subthemes["subtheme_id"], subthemes["parent_id"], subthemes["representative"],
                                strict=True):
        ph = found.get(sid, [])
        phrases_col.append(list(ph[:5]))
        fallback = f"{parent_labels.get(parent, parent)} ({sid.rsplit('.', 1)[1]})"
        if use_phrases:  # no phrase (answers such as "Everything is fine."): its most central short quote
            short = [" ".join(texts[i].split()).rstrip(".!?,;: ") for i in rep if len(texts[i].split()) <= 8]
            fallback = f"“{short[0]}”" if short and short[0] else fallback
        labels.append(label_from_phrases(ph, fallback=fallback))
    subthemes["label"] = labels
    subthemes["phrases"] = phrases_col


def _mmr(found: dict[str, list[str]], groups, xn, embed, diversity: float = 0.3, n: int = 5) -> dict[str, list[str]]:
    """Re-rank each subtheme's phrases: similarity to its centroid, minus ``diversity`` x the largest similarity
    to a phrase already chosen (all phrases embedded in one call)."""
    unique = sorted({p for ph in found.values() for p in ph})
    if not unique:
        return found
    vec = np.array(embed(unique), dtype=np.float32)  # a copy: an embedder's vectors may be read-only
    vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
    at = {p: i for i, p in enumerate(unique)}
    out = {}
    for sid, ph in found.items():
        if len(ph) <= 1:
            out[sid] = list(ph)
            continue
        c = xn[groups[sid]].mean(0)
        c /= np.linalg.norm(c) or 1.0
        v = vec[[at[p] for p in ph]]
        rel = v @ c
        # the phrase order's own evidence (coverage x distinctiveness) is kept as a prior: rank bonus
        rel = rel + 0.02 * (len(ph) - np.arange(len(ph))) / len(ph)
        chosen: list[int] = []
        left = list(range(len(ph)))
        while left and len(chosen) < n:
            red = (v[left] @ v[chosen].T).max(1) if chosen else np.zeros(len(left))
            j = left[int(np.argmax(rel[left] - diversity * red))]
            chosen.append(j)
            left.remove(j)
        out[sid] = [ph[j] for j in chosen]
    return out


def tree_membership(membership: pd.DataFrame, result: SubthemeResult | None) -> tuple[pd.DataFrame, dict[str, str]]:
    """The theme tree as one membership table: each theme's column followed by its subthemes' columns (the
    order the framework matrix and the shift table fold them in), and subtheme id -> parent id. Without
    subthemes (``result`` None or empty) it is ``membership`` itself and ``{}``, so a run without subthemes
    computes exactly what the top level alone computes."""
    if result is None or not len(result.subthemes):
        return membership, {}
    sub = result.membership(membership.index)
    parents = result.parents()
    order: list[str] = []
    for tid in membership.columns:
        order += [tid, *[s for s in sub.columns if parents[s] == tid]]
    order += [s for s in sub.columns if parents[s] not in membership.columns]
    both = pd.concat([membership.astype(bool), sub], axis=1)
    return both[order], parents


# -- curation: [[subtheme]] tables in themes.toml ---------------------------------------------------------
#: what a ``[[subtheme]]`` table's ``action`` may say (a new label renames it)
SUBTHEME_ACTIONS = ("keep", "drop", "merge", "promote")


@dataclass(frozen=True, slots=True)
class SubthemeEdit:
    id: str
    parent: str
    label: str
    action: str = "keep"
    into: str = ""


def subtheme_file_lines(result: SubthemeResult, parent: str) -> list[str]:
    """The ``[[subtheme]]`` tables of one theme for the themes file (folded beneath its ``[[theme]]``)."""
    lines = []
    for _, r in result.subthemes[result.subthemes["parent_id"] == parent].iterrows():
        lines += ["  [[subtheme]]", f"  id = {_q(r['subtheme_id'])}", f"  parent = {_q(parent)}",
                  f"  label = {_q(r['label'])}", '  action = "keep"', '  into = ""',
                  f"  # {int(r['n_quotes'])} quotes" + (f"; {'; '.join(r['phrases'][:4])}" if r["phrases"] else ""),
                  ""]
    return lines


def _q(s: str) -> str:
    import json

    return json.dumps(str(s), ensure_ascii=False)


def parse_subtheme_edits(raw, where: str) -> tuple[SubthemeEdit, ...]:
    """Check the ``[[subtheme]]`` tables of a themes file (``raw``: the parsed list, or None); errors name
    the file, the subtheme and the field (a :class:`ValueError`; the themes file re-raises its own error)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError(f"{where}: 'subtheme' must be [[subtheme]] tables")
    edits = []
    for k, t in enumerate(raw):
        at = f"{where}, subtheme #{k + 1}" + (f" ({t.get('id')})" if isinstance(t, dict) and t.get("id") else "")
        if not isinstance(t, dict):
            raise ValueError(f"{at}: not a table")
        for key in ("id", "parent", "label"):
            if not isinstance(t.get(key), str) or not t[key].strip():
                raise ValueError(f"{at}: field {key!r} must be a non-empty string")
        action = str(t.get("action", "keep")).strip().lower()
        if action not in SUBTHEME_ACTIONS:
            raise ValueError(f"{at}: action {action!r} is not one of {SUBTHEME_ACTIONS}")
        into = str(t.get("into", "")).strip()
        edits.append(SubthemeEdit(t["id"].strip(), t["parent"].strip(), t["label"].strip(), action, into))
    by_id = {e.id: e for e in edits}
    if len(by_id) != len(edits):
        ids = [e.id for e in edits]
        raise ValueError(f"{where}: subtheme id(s) {sorted({i for i in ids if ids.count(i) > 1})} appear more than once")
    for e in edits:
        if e.action != "merge":
            continue
        target = by_id.get(e.into)
        if target is None or target.parent != e.parent or target.id == e.id:
            siblings = [s.id for s in edits if s.parent == e.parent and s.id != e.id]
            raise ValueError(f"{where}: subtheme {e.id!r} merges into {e.into!r}, which is not another subtheme of "
                             f"{e.parent!r}; its siblings are {siblings}")
        seen = {e.id}
        while target.action == "merge":
            if target.id in seen:
                raise ValueError(f"{where}: subtheme merges form a cycle through {sorted(seen)}")
            seen.add(target.id)
            target = by_id[target.into]
        if target.action in ("drop", "promote"):
            raise ValueError(f"{where}: subtheme {e.id!r} merges into {target.id!r}, which is "
                             f"{'dropped' if target.action == 'drop' else 'promoted to a theme'}; merge it into "
                             "a subtheme that stays, or promote it too")
    return tuple(edits)


def curated_subthemes(saved: Sequence[str], saved_labels: Sequence[str], top: Sequence[str],
                      embeddings: np.ndarray, edits: Sequence[SubthemeEdit] = ()) -> SubthemeResult:
    """Subthemes of a curation rerun: the saved assignment (``saved``: each quote's subtheme id, '' none;
    ``saved_labels``) with the themes file's subtheme edits (rename, drop: its quotes stay in the parent only,
    merge into a sibling, promote: it is a top-level theme now, so its quotes are in no subtheme), nothing
    refitted. A quote keeps its subtheme only while its top theme (``top``,
    after the theme edits) is the one most of that subtheme's quotes now carry (a merged theme brings its
    subthemes along; a dropped one loses them)."""
    top = np.asarray([str(t) if t is not None else "" for t in top], dtype=object)
    sub = np.asarray(["" if (s is None or (isinstance(s, float) and np.isnan(s))) else str(s) for s in saved],
                     dtype=object)
    label_of: dict[str, str] = {}
    for s, lab in zip(sub, saved_labels, strict=True):
        if s and s not in label_of:
            label_of[s] = "" if lab is None or (isinstance(lab, float) and np.isnan(lab)) else str(lab)
    by_id = {e.id: e for e in edits}
    resolved = {}
    for s in set(sub.tolist()) - {""}:
        cur, seen = s, set()
        while cur in by_id and by_id[cur].action == "merge" and cur not in seen:
            seen.add(cur)
            cur = by_id[cur].into
        # dropped: its quotes stay in the parent only; promoted: its quotes' top theme is now the subtheme
        # itself (themes.curation.promote_subthemes), so they are in no subtheme
        resolved[s] = "" if cur in by_id and by_id[cur].action in ("drop", "promote") else cur
        if cur in by_id:
            label_of[cur] = by_id[cur].label
    sub = np.asarray([resolved.get(s, "") for s in sub], dtype=object)
    parents = {}
    for s in set(sub.tolist()) - {""}:
        tops = pd.Series(top[sub == s])
        tops = tops[tops != ""]
        parents[s] = tops.mode().sort_values().iloc[0] if len(tops) else ""
    keep = np.array([bool(s) and parents.get(s) == t for s, t in zip(sub, top, strict=True)])
    sub = np.where(keep, sub, "").astype(object)
    split = {parents[s] for s in set(sub.tolist()) - {""}}
    placement = np.where(top == "", "none", np.where(sub != "", "subtheme",
                                                      np.where(np.isin(top, list(split)), "parent", "unsplit")))
    x = np.asarray(embeddings, dtype=np.float32)
    xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    rows = []
    for s in sorted(set(sub.tolist()) - {""}, key=lambda s: (parents[s], -int((sub == s).sum()), s)):
        pos = np.flatnonzero(sub == s)
        c = xn[pos].mean(0)
        c /= np.linalg.norm(c) or 1.0
        rep = pos[np.argsort(-(xn[pos] @ c), kind="stable")[:5]]
        rows.append({"subtheme_id": s, "parent_id": parents[s], "label": label_of.get(s, s), "n_quotes": len(pos),
                     "n_fit": 0, "phrases": [], "representative": [int(i) for i in rep]})
    subthemes = pd.DataFrame(rows, columns=list(SUBTHEME_COLUMNS))
    labels = dict(zip(subthemes["subtheme_id"], subthemes["label"], strict=True))
    quotes = pd.DataFrame({"theme_id": top, "subtheme": sub, "subtheme_label": [labels.get(s, "") for s in sub],
                           "placement": placement, "similarity": np.nan}, columns=list(QUOTE_SUBTHEME_COLUMNS))
    splits = []
    for tid in sorted(set(top.tolist()) - {""}):
        n_sub = int((subthemes["parent_id"] == tid).sum())
        splits.append({"theme_id": tid, "n_quotes": int((top == tid).sum()), "n_speakers": np.nan,
                       "n_subthemes": n_sub, "score": np.nan, "threshold": np.nan,
                       "reason": "split" if n_sub else "curated: no subthemes"})
    return SubthemeResult(subthemes, quotes, pd.DataFrame(splits, columns=list(SPLIT_COLUMNS)))
