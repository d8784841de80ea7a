"""A single self-contained HTML page, findings first (no network: figures inlined as data URIs, a CSP that
forbids scripts). jinja2 autoescaping keeps quote text as text: a quote containing ``<script>`` stays
visible text. Every cell of the framework matrix opens (``<details>``, no JavaScript) to the full list of
its quotes.

Order of the page: findings that hold; changes that need care; sentiment changes; what did not change or
could not be detected; quotes set aside; agreement with the researcher's coding and sentiment validation
(when the analysis carries them); the framework matrix; themes; the shift table; figures; methods and
glossary.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..corpus.waves import strata_wave_table
from ..pipeline import Analysis
from .changes_view import changes_view
from .findings import (
    caveat_column,
    classify_findings,
    detection_statement,
    finding_sentence,
    sentiment_findings,
)
from .tree_view import tree_view


def _fmt_pct(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{100 * x + 0.0:.0f}%".replace("-0%", "0%")


def _fmt_ci(v: float, lo: float, hi: float, pct: bool) -> str:
    if not np.isfinite(v):
        return "–"
    if pct:
        def sg(x: float) -> str:
            return f"{100 * x:+.0f}" if round(100 * x) != 0 else "0"

        if not (np.isfinite(lo) and np.isfinite(hi)):  # e.g. a theme too rare to resample
            return f"{sg(v)} pts"
        return f"{sg(v)} pts ({sg(lo)} to {sg(hi)})"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{v:+.2f}"
    return f"{v:+.2f} ({lo:+.2f} to {hi:+.2f})"


def _agreement_view(df) -> dict | None:
    """The coder's agreement table (:data:`themes.crossval.AGREEMENT_COLUMNS`) as a readable table."""
    if df is None or not isinstance(df, pd.DataFrame) or len(df) == 0:
        return None

    def num(v, fmt="{:.2f}"):
        return "–" if v is None or not np.isfinite(float(v)) else fmt.format(float(v))

    rows = []
    for _, r in df.iterrows():
        kappa = num(r["kappa"])
        if np.isfinite(float(r["kappa_lo"])) and np.isfinite(float(r["kappa_hi"])):
            kappa += f" ({num(r['kappa_lo'])} to {num(r['kappa_hi'])})"
        rows.append([str(r["label"]), f"{int(r['n_human'])} ({num(r['human_prevalence'], '{:.0%}')})",
                     f"{int(r['n_machine'])} ({num(r['machine_prevalence'], '{:.0%}')})", str(int(r["n_both"])),
                     kappa, num(r["precision"]), num(r["recall"]), str(r["evaluation"])])
    return {"columns": ["Theme", "Coded by you (share)", "Coded by the tool (share)", "Both",
                        "Cohen's kappa (95% CI)", "Precision", "Recall", "How measured"], "rows": rows,
            "n_quotes": int(df["n_quotes"].max())}


def _frame(df) -> dict | None:
    """A DataFrame as header + rows of strings for a generic table (None when absent or empty)."""
    if df is None or not isinstance(df, pd.DataFrame) or len(df) == 0:
        return None
    rows = []
    for _, r in df.iterrows():
        cells = []
        for v in r.tolist():
            if isinstance(v, float | np.floating):
                cells.append("–" if not np.isfinite(v) else f"{v:.3g}")
            else:
                cells.append(str(v))
        rows.append(cells)
    return {"columns": [str(c) for c in df.columns], "rows": rows}


#: a framework cell's "all quotes" list shows at most this many (every quote is in quotes.csv): the page of
#: a 1,000,000-comment run stays a few MB and is built from aggregates, not from every row
HTML_QUOTES_PER_CELL = 500


def _quote(q: tuple[list, list, list], texts: list[str], i: int) -> dict:
    """``q``: the corpus's speaker, quote_id and wave columns as lists (Series lookups per quote are slow)."""
    speaker = q[0][i]
    speaker = speaker if isinstance(speaker, str) and speaker else "unattributed"
    return {"text": texts[i], "speaker": speaker, "id": q[1][i], "wave": q[2][i]}


GLOSSARY = (
    ("Unit of analysis", "A quote (one answer, or one interview passage). Quotes from one speaker are not "
     "independent: every interval and test treats the speaker as the unit that was sampled."),
    ("Share", "Of the quotes in a wave, the fraction that carry the theme. The denominator is every analysed "
     "quote of that wave (non-responses set aside are not counted)."),
    ("Multi-theme quotes", "A quote may carry several codebook themes (when it is about equally close to "
     "them), so shares across themes can add up to more than 100%."),
    ("95% CI", "Speakers are the clusters (a speaker's quotes count together; an unattributed quote is its "
     "own cluster). Shares and their changes: a score test with a design effect for the clustering "
     "(Rao-Scott, Miettinen-Nurminen; t with Bell-McCaffrey degrees of freedom); sentiment changes: a "
     "cluster-robust (CR2) t test with Bell-McCaffrey degrees of freedom; share trends: a wild cluster "
     "bootstrap with Webb weights. Each interval is every value its test does not "
     "reject, so it excludes 0 exactly when p < 0.05. Calibration at 6 speakers per wave: "
     "benchmarks/bench_inference.py."),
    ("q", "The p-value of the wave difference adjusted for testing every theme at once (Benjamini-Hochberg "
     "false discovery rate; the family is every theme × every wave comparison, separately for shares and "
     "for sentiment; trend tests are their own family). A change is called significant when q < 0.05."),
    ("Not estimable", "A theme × wave cell voiced by fewer than 2 speakers: it has no interval, and a change "
     "involving it is never called significant."),
    ("Could have been detected", "For a change that is not significant, the smallest difference this number "
     "of speakers detects with 80% power; for a theme absent from a wave, the chance that a view held by 20% "
     "of that wave's speakers was voiced by none of them (Fugard & Potts 2015)."),
    ("Drift", "How far the theme's content moved between waves (distance between the wave centroids of its "
     "quotes), with a speaker-level permutation p-value."),
    ("Stability %", "Of the reruns (other seeds, 80% subsamples of each wave), the share in which the change "
     "kept its direction. Shown as a badge only for significant changes."),
    ("Badges", "significant: q < 0.05. stable: a significant change whose direction held in at least 80% "
     "of reruns. not rerun: stability was not computed. fragile: held in fewer. composition: the "
     "strata-adjusted estimate disagrees (the change may reflect who took part). underpowered: in a wave "
     "where the theme is voiced, fewer than 5 quotes or 3 speakers; never called significant. emerging/vanished: voiced in one wave only. "
     "near-duplicate: another emergent theme has almost the same content."),
)


def _count(n) -> str:
    """A count as the report prints it: ``999,420``."""
    return f"{int(n):,}"


def render_html(a: Analysis, matrix: pd.DataFrame, shifts: pd.DataFrame, figures: dict[str, Path],
                texts: list[str], title: str) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("stakeholder_nlp", "report/templates"),
                      autoescape=select_autoescape(["html"]))
    env.filters["count"] = _count
    q = a.corpus.quotes
    qcols = (q["speaker"].tolist(), q["quote_id"].tolist(), q["wave"].tolist())
    pos = {qid: i for i, qid in enumerate(q["quote_id"])}
    waves = list(dict.fromkeys(a.levels["wave"].tolist())) if "wave" in a.levels.columns else []
    waves = [w for w in waves if w in set(matrix["wave"])] or sorted(matrix["wave"].unique().tolist())
    wave_arr = q["wave"].to_numpy()
    # each quote's place in quote-id order, ranked once: a cell lists its quotes in that order
    id_order = np.argsort(q["quote_id"].astype(str).to_numpy(), kind="stable")
    id_rank = np.empty(len(id_order), dtype=np.int64)
    id_rank[id_order] = np.arange(len(id_order))
    ranked = classify_findings(shifts, near_duplicates=a.near_duplicates)
    pair = (waves[0], waves[-1])
    cell_quotes = {(r["theme_id"], r["wave"]): [x for x in str(r["exemplar_quote_ids"]).split(";") if x]
                   for _, r in matrix.iterrows()}

    def finding(r) -> dict:
        a_, b_ = (r["wave_a"], r["wave_b"]) if "wave_a" in r.index else pair
        w = b_ if r["share_diff"] > 0 else a_
        ex = [_quote(qcols, texts, pos[x]) for x in cell_quotes.get((r["theme_id"], w), [])[:2] if x in pos]
        return {"sentence": finding_sentence(r, pair), "badges": [b for b in r["badges"].split(";") if b],
                "quotes": ex}

    holds = [finding(r) for _, r in ranked.iterrows() if r["finding"] == "holds"]
    care = [finding(r) for _, r in ranked.iterrows() if r["finding"] == "needs care"]
    sent = []
    for _, r in sentiment_findings(shifts).iterrows():
        a_, b_ = (r["wave_a"], r["wave_b"]) if "wave_a" in r.index else pair
        sent.append(f"Sentiment about {r['label']} {'rose' if r['sentiment_diff'] > 0 else 'fell'} from "
                    f"{a_} to {b_} by {abs(r['sentiment_diff']):.2f} on a -1 to 1 scale (95% CI "
                    f"{r['sentiment_diff_lo']:+.2f} to {r['sentiment_diff_hi']:+.2f}; q = {r['sentiment_q_bh']:.3f}).")
    unchanged = []
    for _, r in ranked[ranked["finding"] == "no change detected"].iterrows():
        cav = [b for b in r["badges"].split(";") if b]
        note = detection_statement(r)
        if "underpowered" in cav:
            note = "too few quotes or speakers to tell" + (f"; {note}" if note else "")
        unchanged.append({"label": r["label"], "a": _fmt_pct(r["share_a"]), "b": _fmt_pct(r["share_b"]),
                          "diff": _fmt_ci(r["share_diff"], r["share_diff_lo"], r["share_diff_hi"], True),
                          "q": "–" if not np.isfinite(r["share_q"]) else f"{r['share_q']:.2f}", "note": note,
                          "badges": cav})

    rows = []
    theme_info = a.themes.themes.set_index("theme_id")
    for tid, grp in matrix.groupby("theme_id", sort=False):
        member = a.themes.membership[tid].to_numpy()
        cells = []
        for w in waves:
            sub = grp[grp["wave"] == w]
            if not len(sub):
                cells.append(None)
                continue
            r = sub.iloc[0]
            ex_ids = [x for x in cell_quotes.get((tid, w), []) if x in pos]
            all_idx = np.flatnonzero(member & (wave_arr == w))
            all_idx = all_idx[np.argsort(id_rank[all_idx], kind="stable")]
            n_spk = r["n_speakers"] if "n_speakers" in r.index else None
            cells.append({"n": int(r["n_quotes"]), "speakers": None if n_spk is None else int(n_spk),
                          "share": (f"{_fmt_pct(r['share'])} ({_fmt_pct(r['share_lo'])}–{_fmt_pct(r['share_hi'])})"
                                    if np.isfinite(r["share_lo"]) else
                                    f"{_fmt_pct(r['share'])} (no interval: fewer than 2 speakers)"),
                          "sentiment": "–" if not np.isfinite(r["sentiment_mean"]) else f"{r['sentiment_mean']:+.2f}",
                          "terms": str(r["distinctive_terms"]).replace(";", ", ") if isinstance(
                              r["distinctive_terms"], str) else "",
                          "quotes": [_quote(qcols, texts, pos[x]) for x in ex_ids],
                          "all": [_quote(qcols, texts, int(i)) for i in all_idx[:HTML_QUOTES_PER_CELL]],
                          "n_all": len(all_idx)})
        phrases = theme_info.loc[tid, "phrases"] if "phrases" in theme_info.columns else []
        terms = theme_info.loc[tid, "terms"]
        rows.append({"theme_id": tid, "label": grp["label"].iat[0], "kind": grp["kind"].iat[0], "cells": cells,
                     "phrases": ", ".join(phrases) if isinstance(phrases, list | tuple) else "",
                     "terms": ", ".join(terms) if isinstance(terms, list | tuple) else ""})

    col = caveat_column(ranked)
    shift_rows = []
    for _, r in shifts.iterrows():
        stab = r["prevalence_stability"]
        badges = ranked.set_index("theme_id").loc[r["theme_id"], "badges"]
        shift_rows.append({
            "label": r["label"], "share_a": _fmt_pct(r["share_a"]), "share_b": _fmt_pct(r["share_b"]),
            "diff": _fmt_ci(r["share_diff"], r["share_diff_lo"], r["share_diff_hi"], True),
            "adj": _fmt_ci(r.get("adj_diff", np.nan), r.get("adj_diff_lo", np.nan), r.get("adj_diff_hi", np.nan),
                           True),
            "q": "–" if not np.isfinite(r["share_q"]) else f"{r['share_q']:.2f}",
            "sent": _fmt_ci(r["sentiment_diff"], r["sentiment_diff_lo"], r["sentiment_diff_hi"], False),
            "drift": "–" if not np.isfinite(r["drift"]) else f"{r['drift']:.3f} ({r['drift_p']:.2f})",
            "stability": "–" if not np.isfinite(stab) else f"{stab:.0%}",
            "badges": [b for b in str(badges).split(";") if b]})
    del col
    stability_summary = ""
    if a.stability is not None:
        parts = []
        for _, s in a.stability.summary.iterrows():
            parts.append(f"{s['kind']} reruns ({int(s['n_runs'])}): mean pairwise ARI {s['ari_mean']:.2f} "
                         f"(min {s['ari_min']:.2f}), {int(s['n_topics_min'])}–{int(s['n_topics_max'])} topics")
        stability_summary = "Stability of the inductive topics: " + "; ".join(parts) + "."
    set_aside = getattr(a, "set_aside", None)
    set_aside_view = None
    if set_aside is not None and len(set_aside):
        from ..corpus.nonresponse import summarise_set_aside

        counts = summarise_set_aside(set_aside, waves)
        totals = {w: int((set_aside["wave"] == w).sum()) for w in waves}
        n_wave = {w: totals[w] + int((wave_arr == w).sum()) for w in waves}
        set_aside_view = {
            "n": len(set_aside), "table": _frame(counts),
            "per_wave": ", ".join(f"{totals[w]} of {n_wave[w]} answers in {w} ({_fmt_pct(totals[w] / n_wave[w])})"
                                  for w in waves if n_wave[w]),
            "items": [{"text": t, "reason": rr, "wave": w, "id": i} for t, rr, w, i in zip(
                set_aside["text"], set_aside["reason"], set_aside["wave"], set_aside["quote_id"], strict=True)]}
    near = a.near_duplicates if getattr(a, "near_duplicates", None) is not None else None
    skipped = getattr(a.corpus, "skipped", ()) or ()
    figs = []
    for key, alt in (("prevalence", "Prevalence of each theme by wave (* significant after FDR)"),
                     ("sentiment", "Sentiment by theme and wave"),
                     ("map", "Quotes by theme on a 2-D map of their embeddings")):
        path = figures.get(f"{key}_svg") or figures.get(key)
        if path is None:
            continue
        mime = "image/svg+xml" if Path(path).suffix == ".svg" else "image/png"
        figs.append({"alt": alt, "mime": mime, "data": base64.b64encode(Path(path).read_bytes()).decode("ascii")})
    map_note = figures.get("map_note") if isinstance(figures.get("map_note"), str) else ""
    return env.get_template("report.html").render(
        title=title, n_quotes=len(q), n_speakers=q["speaker"].nunique(), waves=waves, pair=pair,
        n_unattributed=int(q["speaker"].isna().sum()),
        corpus_warnings=list(getattr(a.corpus, "warnings", ())),
        mode=a.themes.mode, codebook=a.config.get("codebook"), themes_file=a.config.get("themes_file"),
        model_id=a.model_id, seed=a.config.get("seed"), n_themes=len(a.themes.themes),
        holds=holds, care=care, sentiment=sent, unchanged=unchanged, set_aside=set_aside_view,
        n_skipped=len(skipped), near=_frame(near), agreement=_agreement_view(getattr(a, "agreement", None)),
        sentiment_validation=_frame(getattr(a, "sentiment_validation", None)),
        sentiment_notice=getattr(a, "sentiment_notice", None) or "",
        changes=changes_view(a, texts), tree=tree_view(a, texts),
        matrix_rows=rows, shift_rows=shift_rows, stability_summary=stability_summary, figures=figs,
        map_note=map_note, glossary=GLOSSARY, runs=a.config.get("runs"), n_boot=a.config.get("n_boot"),
        strata=a.config.get("strata") or [], version=__version__,
        wave_order=a.config.get("wave_order", {}).get("sentence", ""),
        composition=[(c, _frame(t.reset_index().rename(columns={"stratum": c})))
                     for c in a.config.get("strata") or []
                     if (t := strata_wave_table(a.corpus.quotes, c)) is not None])
