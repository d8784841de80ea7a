"""The tables a researcher keeps: quotes, the framework matrix (theme × wave) and the shift table.

``quotes.csv`` (:data:`QUOTE_COLUMNS`): ``quote_id``, ``text``, ``speaker``, ``wave``, ``themes`` (theme ids,
``;``-separated), ``primary_theme``, ``topic`` (inductive topic, -1 none), ``sentiment`` (score in [-1, 1]),
``subtheme`` (``<theme_id>.<k>`` within the primary theme; empty where none), ``subtheme_label``,
``subtheme_placement`` (``subtheme``; ``parent``: near no subtheme of its split theme, so kept in the theme
only; ``unsplit``: its theme has no subthemes; ``none``: no theme; :mod:`stakeholder_nlp.themes.subthemes`),
``sentiment_label``, ``sentiment_combine`` (how a long quote's score was combined from its sentences), ``mode``
(``anticipation``, ``experience``, ``prescription``, ``other``: :mod:`stakeholder_nlp.change.mode`), ``dissent``
(its tone runs against its primary theme and wave's majority: :mod:`stakeholder_nlp.change.tone`), then ``codes`` (human codes, ``;``-separated) and every metadata column of the input
(role, site, organisation...) as it was read.

``framework_matrix.csv`` (:data:`MATRIX_COLUMNS`): one row per theme × wave, each theme's subthemes' rows after
it within the wave: ``theme_id``, ``level`` (``theme``/``subtheme``), ``parent`` (a subtheme's theme id, '' for a
theme), ``label``, ``kind`` (``subtheme`` for a subtheme),
``wave``, ``n_quotes`` (quotes in the theme and wave), ``n_speakers`` (distinct speakers among them), ``share``, ``share_lo``, ``share_hi``,
``sentiment_mean``, ``sentiment_lo``, ``sentiment_hi``, ``distinctive_terms`` (log-odds vs the other wave;
``;``-separated), ``exemplar_quote_ids`` (``;``-separated; quotes whose main theme this is first, no repeated
text, fragments of fewer than four words only when nothing longer is there).

``shifts.csv`` (:data:`SHIFT_TABLE_COLUMNS`): one row per theme × wave comparison (consecutive pairs, and
first -> last with three or more waves), each theme's subthemes' rows after its own (``level``, ``parent``; one
BH family across both levels): ``theme_id``, ``label``, then the columns of ``result.shifts``
(:data:`stakeholder_nlp.shift.prevalence.SHIFT_COLUMNS`: ``wave_a``, ``wave_b``, ``comparison``,
``share_a`` ... ``share_diff_lo``, ``share_diff_hi``, ``share_p``, ``share_q``, ``share_significant``, ``status``,
``estimable_a/_b``, ``underpowered``, ``share_mdd``, ``miss_probability``, ``detectable_share``, ``adj_diff``,
``adj_diff_lo``, ``adj_diff_hi``, ``composition``) and of ``result.sentiment_shifts``
(:data:`stakeholder_nlp.sentiment.summary.SENTIMENT_SHIFT_COLUMNS`, ``sentiment_*``) under the same names,
then ``drift``, ``drift_p``, ``prevalence_stability`` (share of reruns whose shift has the same sign),
``sentiment_stability``, ``member_stability`` (these five on the first -> last row only), ``caveats``
(``emerging``, ``vanished``, ``not-estimable``, ``composition``, ``underpowered``, ``fragile``;
``;``-separated), ``sentence`` (the finding in plain language, with what could have been detected).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..pipeline import Analysis
from ..sentiment.summary import SENTIMENT_SHIFT_COLUMNS
from ..shift.prevalence import SHIFT_COLUMNS
from .findings import pct_pair, point_digits, points_phrase, signed_points

QUOTE_COLUMNS = ("quote_id", "text", "speaker", "wave", "themes", "primary_theme", "topic", "subtheme",
                 "subtheme_label", "subtheme_placement", "sentiment", "sentiment_label", "sentiment_combine", "mode",
                 "dissent")
MATRIX_COLUMNS = ("theme_id", "level", "parent", "label", "kind", "wave", "n_quotes", "n_speakers", "share", "share_lo", "share_hi",
                  "sentiment_mean", "sentiment_lo", "sentiment_hi", "distinctive_terms", "exemplar_quote_ids")
SHIFT_TABLE_COLUMNS = (("theme_id", "label") + SHIFT_COLUMNS[1:]
                       + tuple(c for c in SENTIMENT_SHIFT_COLUMNS if c.startswith("sentiment_"))
                       + ("drift", "drift_p", "prevalence_stability", "sentiment_stability", "member_stability",
                          "caveats", "sentence"))


def quotes_table(a: Analysis, texts: list[str] | None = None) -> pd.DataFrame:
    q = a.corpus.quotes
    m = a.themes.membership
    cols = list(m.columns)
    base = pd.DataFrame({
        "quote_id": q["quote_id"], "text": texts if texts is not None else q["text"], "speaker": q["speaker"],
        "wave": q["wave"],
        "themes": [";".join(cols[j] for j in np.flatnonzero(row)) for row in m.to_numpy(dtype=bool)],
        "primary_theme": a.themes.primary(), "topic": a.themes.topic_labels,
        **_subtheme_columns(a),
        "sentiment": np.round(a.sentiment_scores, 6), "sentiment_label": a.sentiment_labels,
        # how a quote's score was combined (whole / sentence-mean / sentence-mean-mixed): sentiment.finetuned
        "sentiment_combine": (a.sentiment_detail["combine"].to_numpy() if a.sentiment_detail is not None
                              else "scorer"),
        # the change records (change.records): what the quote does (anticipation / experience / prescription /
        # other) and whether its tone runs against its theme and wave's majority; empty without them
        "mode": _change_column(a, "mode", ""), "dissent": _change_column(a, "dissent", False),
    }, columns=list(QUOTE_COLUMNS))
    extra = {"codes": ["; ".join(c) for c in q["codes"]]} if "codes" in q.columns else {}
    meta = [c for c in a.corpus.metadata_columns if c not in base.columns and c != "codes"]
    return pd.concat([base, pd.DataFrame(extra, index=base.index), q[meta].reset_index(drop=True)], axis=1)


def _subtheme_columns(a: Analysis) -> dict:
    """quotes.csv's subtheme columns (empty, placement ``unsplit``, without the subthemes stage)."""
    sub, n = getattr(a, "subthemes", None), len(a.corpus.quotes)
    if sub is None:
        return {"subtheme": [""] * n, "subtheme_label": [""] * n, "subtheme_placement": ["unsplit"] * n}
    sq = sub.quotes
    return {"subtheme": sq["subtheme"].to_numpy(), "subtheme_label": sq["subtheme_label"].to_numpy(),
            "subtheme_placement": sq["placement"].to_numpy()}


def _change_column(a: Analysis, name: str, empty):
    ch = getattr(a, "changes", None)
    if ch is None:
        return [empty] * len(a.corpus.quotes)
    values = dict(zip(ch.quotes["quote_id"], ch.quotes[name], strict=True))
    return [values.get(x, empty) for x in a.corpus.quotes["quote_id"]]


def _exemplar_order(idx: list[int], tid: str, primary: list[str], texts: list[str], n: int = 3) -> list[int]:
    """Up to ``n`` exemplars from candidate positions (best first): quotes whose main theme is ``tid``
    before quotes that only also carry it, no text twice, fragments (< 4 words) last."""
    seen: set[str] = set()
    unique = []
    for i in idx:
        key = " ".join(texts[i].lower().split())
        if key not in seen:
            seen.add(key)
            unique.append(i)
    ranked = sorted(unique, key=lambda i: (primary[i] != tid, len(texts[i].split()) < 4))
    return ranked[:n]


def _labels(a: Analysis) -> dict[str, str]:
    """Theme id -> label, and subtheme id -> label."""
    labels = dict(zip(a.themes.themes["theme_id"], a.themes.themes["label"], strict=True))
    sub = getattr(a, "subthemes", None)
    if sub is not None:
        labels.update(zip(sub.subthemes["subtheme_id"], sub.subthemes["label"], strict=True))
    return labels


def tree_order(a: Analysis) -> dict[str, int]:
    """Position of each theme and subtheme in the tree as the tables list it: each theme (in the themes
    table's order) followed by its subthemes (largest first)."""
    sub = getattr(a, "subthemes", None)
    children: dict[str, list[str]] = {}
    if sub is not None:
        for sid, pid in zip(sub.subthemes["subtheme_id"], sub.subthemes["parent_id"], strict=True):
            children.setdefault(pid, []).append(sid)
    ids: list[str] = []
    for tid in a.themes.themes["theme_id"]:
        ids += [tid, *children.get(tid, [])]
    return {t: i for i, t in enumerate(ids)}


def top_level(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the top-level themes (a table without a ``level`` column is returned as it is)."""
    if "level" not in table.columns:
        return table
    return table[table["level"] == "theme"].reset_index(drop=True)


def tree_membership_of(a: Analysis) -> pd.DataFrame:
    """The themes' membership with each theme's subtheme columns folded beneath it."""
    from ..themes.subthemes import tree_membership

    return tree_membership(a.themes.membership, getattr(a, "subthemes", None))[0]


def framework_matrix(a: Analysis) -> pd.DataFrame:
    ids = a.corpus.quotes["quote_id"].tolist()
    labels = _labels(a)
    kinds = dict(zip(a.themes.themes["theme_id"], a.themes.themes["kind"], strict=True))
    waves = sorted(a.levels["wave"].unique().tolist())
    sent = a.sentiment_levels.set_index(["theme_id", "wave"])
    drift = a.drift.set_index("theme_id")
    scores = a.themes.scores
    primary = a.themes.primary()
    texts = a.corpus.texts
    speakers = a.corpus.quotes["speaker"].to_numpy()
    sub = getattr(a, "subthemes", None)
    rows = []
    for _, lv in a.levels.iterrows():
        tid, w = lv["theme_id"], lv["wave"]
        if lv.get("level", "theme") == "subtheme":
            rows.append(_subtheme_row(a, sub, lv, labels, ids, speakers, sent))
            continue
        side = "a" if w == waves[0] else "b" if w == waves[-1] else None
        terms = drift.loc[tid, f"terms_{side}"] if side and tid in drift.index else []
        member = a.themes.membership[tid].to_numpy() & (a.corpus.quotes["wave"].to_numpy() == w)
        idx = np.flatnonzero(member)
        idx = idx[np.argsort(np.asarray(ids, dtype=object)[idx].astype(str), kind="stable")]  # ties: by quote id
        if kinds[tid] == "codebook":  # best-scoring quotes first
            idx = idx[np.argsort(-scores[tid].to_numpy()[idx], kind="stable")]
        exemplars = list(drift.loc[tid, f"exemplars_{side}"]) if side and tid in drift.index else []
        idx = exemplars + [i for i in idx.tolist() if i not in exemplars]  # drift exemplars lead
        idx = _exemplar_order(idx, tid, primary, texts)
        n_spk = len({s for s in speakers[member] if isinstance(s, str) and s})
        s = sent.loc[(tid, w)] if (tid, w) in sent.index else None
        rows.append({"theme_id": tid, "level": "theme", "parent": "", "label": labels[tid], "kind": kinds[tid],
                     "wave": w,
                     "n_quotes": int(lv["n_theme"]), "n_speakers": n_spk, "share": lv["share"], "share_lo": lv["share_lo"],
                     "share_hi": lv["share_hi"],
                     "sentiment_mean": s["mean"] if s is not None else np.nan,
                     "sentiment_lo": s["mean_lo"] if s is not None else np.nan,
                     "sentiment_hi": s["mean_hi"] if s is not None else np.nan,
                     "distinctive_terms": ";".join(terms[:6]),
                     "exemplar_quote_ids": ";".join(ids[i] for i in idx[:3])})
    return pd.DataFrame(rows, columns=list(MATRIX_COLUMNS))


def _subtheme_row(a: Analysis, sub, lv, labels, ids, speakers, sent) -> dict:
    """A subtheme's framework-matrix row: its quotes in the wave, the exemplars those nearest its centroid
    (ties by quote id), no distinctive terms (drift is measured per theme)."""
    sid, w = lv["theme_id"], lv["wave"]
    member = (sub.quotes["subtheme"].to_numpy(dtype=object) == sid) & (a.corpus.quotes["wave"].to_numpy() == w)
    idx = np.flatnonzero(member)
    idx = idx[np.argsort(np.asarray(ids, dtype=object)[idx].astype(str), kind="stable")]
    sim = sub.quotes["similarity"].to_numpy(dtype=float)[idx]
    idx = idx[np.argsort(-np.nan_to_num(sim, nan=-np.inf), kind="stable")]
    idx = _exemplar_order(idx.tolist(), sid, [sid] * len(ids), a.corpus.texts)
    s = sent.loc[(sid, w)] if (sid, w) in sent.index else None
    return {"theme_id": sid, "level": "subtheme", "parent": lv["parent"], "label": labels[sid], "kind": "subtheme",
            "wave": w, "n_quotes": int(lv["n_theme"]),
            "n_speakers": len({x for x in speakers[member] if isinstance(x, str) and x}),
            "share": lv["share"], "share_lo": lv["share_lo"], "share_hi": lv["share_hi"],
            "sentiment_mean": s["mean"] if s is not None else np.nan,
            "sentiment_lo": s["mean_lo"] if s is not None else np.nan,
            "sentiment_hi": s["mean_hi"] if s is not None else np.nan,
            "distinctive_terms": "", "exemplar_quote_ids": ";".join(ids[i] for i in idx[:3])}


def _sentence(label, row) -> str:
    from ..shift import power_sentence

    a, b = row["wave_a"], row["wave_b"]
    cav = str(row["caveats"]).split(";")
    d = row["share_diff"]
    verb = "rose" if d > 0 else "fell" if d < 0 else "stayed"
    k = point_digits(d) if np.isfinite(d) else 0
    ci = (f", 95% CI {signed_points(row['share_diff_lo'], k)} to {signed_points(row['share_diff_hi'], k)}"
          if np.isfinite(row["share_diff_lo"]) else "")
    share_a, share_b = pct_pair(row["share_a"], row["share_b"], at_least=k)  # as precise as the difference
    parts = [f"{label}: share {verb} from {share_a} in {a} to {share_b} in {b} "
             f"(difference {points_phrase(d, k)}{ci}"
             + (f", p = {row['share_p']:.3f}, q = {row['share_q']:.2f}" if np.isfinite(row["share_q"]) else "")
             + ")"]
    if "emerging" in cav:
        parts.append(f"voiced only in {b}")
    if "vanished" in cav:
        parts.append(f"voiced only in {a}")
    if "not-estimable" in cav:
        where = " and ".join(str(w) for w, ok in ((a, row["estimable_a"]), (b, row["estimable_b"])) if not ok)
        parts.append(f"voiced by fewer than 2 speakers in {where}: not estimable, never called significant")
    if not row["share_significant"]:
        said = power_sentence(row)
        if said:
            parts.append(said)
    sd = row["sentiment_diff"]
    if np.isfinite(sd):
        parts.append(f"sentiment {'rose' if sd > 0 else 'fell'} by {abs(sd):.2f} (95% CI "
                     f"{row['sentiment_diff_lo']:+.2f} to {row['sentiment_diff_hi']:+.2f}, "
                     f"p = {row['sentiment_p']:.3f})")
    if np.isfinite(row["prevalence_stability"]):
        parts.append(f"direction of the share change held in {row['prevalence_stability']:.0%} of reruns")
    if "underpowered" in cav:
        parts.append("too few quotes or speakers in a wave for a firm conclusion")
    if np.isfinite(row["adj_diff"]):
        j = point_digits(row["adj_diff"])
        adjusted = (f"{points_phrase(row['adj_diff'], j)} (95% CI {signed_points(row['adj_diff_lo'], j)} to "
                    f"{signed_points(row['adj_diff_hi'], j)})")
        parts.append(f"the change may reflect who took part: adjusted for the strata the difference is {adjusted}"
                     if "composition" in cav else f"adjusted for the strata {adjusted}")
    elif "composition" in cav:
        parts.append("the change may reflect who took part")
    return "; ".join(parts) + "."


def shift_table(a: Analysis) -> pd.DataFrame:
    """One row per theme × wave comparison: the columns of ``result.shifts`` and ``result.sentiment_shifts``
    under the same names, plus label, drift and stability (first -> last only), caveats and a sentence."""
    labels = _labels(a)
    keys = ["theme_id", "wave_a", "wave_b"]
    sent = a.sentiment_shifts.drop(columns=[c for c in ("comparison", "level", "parent")
                                            if c in a.sentiment_shifts.columns])
    df = a.shifts.merge(sent, on=keys, how="left")
    last = df["comparison"].eq("first-last") if df["comparison"].eq("first-last").any() else \
        pd.Series(True, index=df.index)
    dr = a.drift.set_index("theme_id")
    st_f = a.stability.findings.set_index("theme_id") if a.stability is not None else None
    st_t = a.stability.themes.set_index("theme_id") if a.stability is not None else None
    df["label"] = df["theme_id"].map(labels)
    for col in ("drift", "drift_p"):
        df[col] = np.where(last, df["theme_id"].map(dr[col]), np.nan)
    for col, src, name in (("prevalence_stability", st_f, "prevalence_sign_agreement"),
                           ("sentiment_stability", st_f, "sentiment_sign_agreement"),
                           ("member_stability", st_t, "member_stability")):
        df[col] = np.where(last, df["theme_id"].map(src[name]), np.nan) if src is not None else np.nan
    caveats = []
    for i, r in df.iterrows():
        cav = [r["status"]] if r["status"] in ("emerging", "vanished") else []
        if not (r["estimable_a"] and r["estimable_b"]) and r["status"] == "present":
            cav.append("not-estimable")
        if r["composition"]:
            cav.append("composition")
        if r["underpowered"]:
            cav.append("underpowered")
        if st_f is not None and last[i] and r["theme_id"] in st_f.index and not st_f.loc[r["theme_id"], "stable"]:
            cav.append("fragile")
        caveats.append(";".join(cav))
    df["caveats"] = caveats
    # a subtheme's sentence names its parent first ("Staff › Lovely staff: share rose ...")
    df["sentence"] = [_sentence(labels[r["theme_id"]] if not r["parent"] else
                                f"{labels.get(r['parent'], r['parent'])} › {labels[r['theme_id']]}", r)
                      for _, r in df.iterrows()]
    order = tree_order(a)  # each theme's rows, then its subthemes' rows
    df = df.assign(_o=df["theme_id"].map(order)).sort_values(["_o"], kind="stable").drop(columns="_o")
    return df.reset_index(drop=True)[list(SHIFT_TABLE_COLUMNS)]
