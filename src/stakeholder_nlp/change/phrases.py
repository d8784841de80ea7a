"""What is said in each wave: phrases distinctive of a theme's quotes in one wave against the same theme's
quotes in the other wave (not against the whole corpus), each with the quotes it comes from.

Phrases are the candidates of :func:`stakeholder_nlp.themes.labels.candidates` (noun phrases, "noun be
adjective", "noun of noun", read off spaCy's tags), counted once per quote under their content lemmas. For
wave ``w`` and phrase ``p``, with ``cov_w(p)`` the share of the theme's ``w`` quotes containing it:

    score = cov_w(p) * (cov_w(p) / (cov_w(p) + cov_other(p)))^2 * (1 + 0.5 * (min(words(p), 3) - 1))

A phrase must occur in at least ``max(1, min(2, n_w // 8))`` quotes of the wave (so a phrase of one quote
may stand for a cell of under 16 quotes) and be rarer in the other wave (distinctiveness over 0.5); the
phrases chosen share no content word. Each comes with up to three quote ids, those nearest the cell's
centroid first. At most ``max_docs`` quotes per cell are read (nearest the centroid), so the cost is bounded.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Phrase:
    text: str
    quote_ids: tuple[str, ...]
    n_quotes: int
    positions: tuple[int, ...] = ()

    def cite(self) -> str:
        return f"'{self.text}' ({', '.join(self.quote_ids)})"


MAX_DOCS = 200


_ROWS = 65_536


def central(idx: np.ndarray, x: np.ndarray, rank: np.ndarray, max_docs: int = MAX_DOCS) -> np.ndarray:
    """The (at most ``max_docs``) positions of ``idx`` nearest their centroid, nearest first; ties go to the
    lower ``rank`` (a row-order-free order)."""
    idx = np.asarray(idx, dtype=np.int64)
    if len(idx) <= 1:
        return idx
    # in blocks of rows: a theme's rows in one wave can be half a million vectors, never copied whole
    blocks = [idx[s:s + _ROWS] for s in range(0, len(idx), _ROWS)]
    c = sum(np.asarray(x[b], dtype=np.float32).sum(0, dtype=np.float64) for b in blocks) / len(idx)
    c = (c / (np.linalg.norm(c) or 1.0)).astype(np.float32)
    sim = np.concatenate([np.asarray(x[b], dtype=np.float32) @ c for b in blocks]).astype(np.float64)
    order = np.lexsort((rank[idx], -np.round(sim, 6)))
    return idx[order][:max_docs]


def distinctive_phrases(cell_a: np.ndarray, cell_b: np.ndarray, cands: Mapping[int, Mapping[str, str]],
                        quote_ids: Sequence[str], *, n: int = 3) -> tuple[list[Phrase], list[Phrase]]:
    """Phrases distinctive of the quotes at ``cell_a`` against those at ``cell_b``, and the reverse (cells as
    :func:`central` picks them, nearest the centroid first). ``cands``: position -> that quote's phrase
    candidates (key -> surface form)."""
    cells = [np.asarray(cell_a, dtype=np.int64), np.asarray(cell_b, dtype=np.int64)]
    cov: list[dict[str, float]] = []
    where: list[dict[str, list[int]]] = []
    surfaces: dict[str, Counter] = defaultdict(Counter)
    for cell in cells:
        found: dict[str, list[int]] = defaultdict(list)
        for i in cell.tolist():
            for key, surf in cands.get(i, {}).items():
                found[key].append(i)
                surfaces[key][surf] += 1
        where.append(found)
        cov.append({k: len(v) / max(len(cell), 1) for k, v in found.items()})
    out = []
    for w in (0, 1):
        other = 1 - w
        need = max(1, min(2, len(cells[w]) // 8))
        scored = []
        for key, c in cov[w].items():
            if len(where[w][key]) < need:
                continue
            distinct = c / (c + cov[other].get(key, 0.0))
            if distinct <= 0.5:
                continue
            words = len(key.split())
            scored.append((-(c * distinct ** 2 * (1 + 0.5 * (min(words, 3) - 1))), key))
        scored.sort()
        chosen, used = [], set()
        for _, key in scored:
            content = set(key.split())
            if content & used:
                continue
            used |= content
            rows = where[w][key]
            chosen.append(Phrase(surfaces[key].most_common(1)[0][0], tuple(quote_ids[i] for i in rows[:3]),
                                 len(rows), tuple(rows[:3])))
            if len(chosen) == n:
                break
        out.append(chosen)
    return out[0], out[1]


def read_candidates(texts: Sequence[str], positions: Sequence[int], known: Mapping[str, Mapping[str, str]] | None,
                    nlp=None) -> dict[int, Mapping[str, str]]:
    """Phrase candidates of the quotes at ``positions``: from ``known`` (text -> candidates, the lemmatiser's
    pass) where there, else read off spaCy's tagger here."""
    from ..themes.labels import candidates, load_tagger

    known = known or {}
    out = {i: known[texts[i]] for i in positions if texts[i] in known}
    todo = [i for i in positions if i not in out]
    if todo:
        nlp = nlp or load_tagger()
        for i, doc in zip(todo, nlp.pipe([texts[i] for i in todo], batch_size=256), strict=True):
            out[i] = candidates(doc)
    return out
