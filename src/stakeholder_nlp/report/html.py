"""A single self-contained HTML page (no network: figures inlined as data URIs, a CSP that forbids
scripts). jinja2 autoescaping keeps quote text as text: a quote containing ``<script>`` stays visible text."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..pipeline import Analysis


def _fmt_pct(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{100 * x:.0f}%"


def _fmt_ci(v: float, lo: float, hi: float, pct: bool) -> str:
    if not np.isfinite(v):
        return "–"
    if pct:
        return f"{100 * v:+.0f} pts ({100 * lo:+.0f} to {100 * hi:+.0f})"
    return f"{v:+.2f} ({lo:+.2f} to {hi:+.2f})"


def render_html(a: Analysis, matrix: pd.DataFrame, shifts: pd.DataFrame, figures: dict[str, Path],
                texts: list[str], title: str) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("stakeholder_nlp", "report/templates"),
                      autoescape=select_autoescape(["html"]))
    q = a.corpus.quotes
    pos = {qid: i for i, qid in enumerate(q["quote_id"])}
    waves = sorted(matrix["wave"].unique().tolist())
    rows = []
    for tid, grp in matrix.groupby("theme_id", sort=False):
        cells = []
        for w in waves:
            r = grp[grp["wave"] == w].iloc[0]
            quotes = []
            for qid in [x for x in str(r["exemplar_quote_ids"]).split(";") if x]:
                i = pos[qid]
                speaker = q["speaker"].iat[i]
                speaker = speaker if isinstance(speaker, str) and speaker else "unattributed"
                quotes.append({"text": texts[i], "speaker": speaker, "id": qid})
            cells.append({"n": int(r["n_quotes"]), "share": f"{_fmt_pct(r['share'])} "
                          f"({_fmt_pct(r['share_lo'])}–{_fmt_pct(r['share_hi'])})",
                          "sentiment": "–" if not np.isfinite(r["sentiment_mean"]) else f"{r['sentiment_mean']:+.2f}",
                          "terms": str(r["distinctive_terms"]).replace(";", ", "), "quotes": quotes})
        rows.append({"theme_id": tid, "label": grp["label"].iat[0], "kind": grp["kind"].iat[0], "cells": cells})
    shift_rows = []
    for _, r in shifts.iterrows():
        stab = r["prevalence_stability"]
        shift_rows.append({
            "label": r["label"], "share_a": _fmt_pct(r["share_a"]), "share_b": _fmt_pct(r["share_b"]),
            "diff": _fmt_ci(r["share_diff"], r["share_diff_lo"], r["share_diff_hi"], True),
            "q": "–" if not np.isfinite(r["share_q"]) else f"{r['share_q']:.2f}",
            "sent": _fmt_ci(r["sentiment_diff"], r["sentiment_diff_lo"], r["sentiment_diff_hi"], False),
            "drift": "–" if not np.isfinite(r["drift"]) else f"{r['drift']:.3f} ({r['drift_p']:.2f})",
            "stability": "–" if not np.isfinite(stab) else f"{stab:.0%}",
            "flags": [f for f in str(r["flags"]).split(";") if f] or (["stable"] if np.isfinite(stab) else [])})
    stability_summary = ""
    if a.stability is not None:
        parts = []
        for _, s in a.stability.summary.iterrows():
            parts.append(f"{s['kind']} reruns ({int(s['n_runs'])}): mean pairwise ARI {s['ari_mean']:.2f} "
                         f"(min {s['ari_min']:.2f}), {int(s['n_topics_min'])}–{int(s['n_topics_max'])} topics")
        stability_summary = "Stability of the inductive topics: " + "; ".join(parts) + "."
    figs = [{"alt": alt, "data": base64.b64encode(figures[key].read_bytes()).decode("ascii")}
            for key, alt in (("prevalence", "Prevalence of each theme by wave"),
                             ("sentiment", "Sentiment by theme and wave"),
                             ("map", "Quotes by theme on a 2-D map of their embeddings")) if key in figures]
    return env.get_template("report.html").render(
        title=title, n_quotes=len(q), n_speakers=q["speaker"].nunique(), waves=waves, mode=a.themes.mode,
        codebook=a.config.get("codebook"), model_id=a.model_id, seed=a.config.get("seed"),
        sentences=shifts["sentence"].tolist(), matrix_rows=rows, shift_rows=shift_rows,
        stability_summary=stability_summary, figures=figs, version=__version__)
