"""Figures for papers (matplotlib, Agg backend, no display needed): each as SVG and as 300 dpi PNG.

* ``prevalence_by_wave``: share of each theme by wave with 95% intervals; themes whose change is
  significant after FDR are marked ``*`` in their label (and ``†`` when the change needs care);
* ``sentiment_by_theme``: mean sentiment by theme and wave with intervals;
* ``quote_map``: the quotes on a 2-D PCA map of their embeddings, coloured by theme, drawn only when it
  can be read (at most :data:`MAP_MAX_THEMES` themes); otherwise the reason is returned under ``map_note``.

Labels are wrapped, never truncated.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from ..pipeline import Analysis

MAP_MAX_THEMES = 12
#: the quote map draws (and fits its PCA on) at most this many quotes, evenly spaced in quote-id order: a
#: person cannot read more points, and the figure's memory and size stay flat in the corpus size
MAP_MAX_POINTS = 5_000
PNG_DPI = 300


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "stakeholder-nlp"  # deterministic SVG ids
    return plt


def _wrap(label: str, width: int = 38) -> str:
    return "\n".join(textwrap.wrap(str(label), width=width, break_long_words=False)) or str(label)


def _marks(shifts: pd.DataFrame | None) -> dict[str, str]:
    if shifts is None or "finding" not in shifts.columns:
        return {}
    return {r["theme_id"]: "*" if r["finding"] == "holds" else "†" if r["finding"] == "needs care" else ""
            for _, r in shifts.iterrows()}


def _grouped(ax, matrix: pd.DataFrame, value: str, lo: str, hi: str, xlabel: str, waves: list,
             marks: dict[str, str]):
    themes = list(dict.fromkeys(matrix["theme_id"]))
    labels = matrix.drop_duplicates("theme_id").set_index("theme_id")["label"]
    y = np.arange(len(themes))
    h = 0.8 / max(len(waves), 1)
    for j, w in enumerate(waves):
        sub = matrix[matrix["wave"] == w].set_index("theme_id").reindex(themes)
        v = sub[value].to_numpy(float)
        err = np.vstack([v - sub[lo].to_numpy(float), sub[hi].to_numpy(float) - v])
        err = np.where(np.isfinite(err), np.maximum(err, 0), 0)
        ax.barh(y + (j - (len(waves) - 1) / 2) * h, np.nan_to_num(v), height=h, xerr=err, capsize=2,
                label=str(w), alpha=0.85)
    ax.set_yticks(y, [_wrap(labels[t] + (f" {marks[t]}" if marks.get(t) else "")) for t in themes], fontsize=8)
    for tick, t in zip(ax.get_yticklabels(), themes, strict=True):
        if marks.get(t) == "*":
            tick.set_fontweight("bold")
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.legend(title="wave", fontsize=8)
    ax.grid(axis="x", alpha=0.3)


def _height(matrix: pd.DataFrame) -> float:
    labels = matrix.drop_duplicates("theme_id")["label"]
    lines = sum(max(1, len(textwrap.wrap(str(t), 38))) for t in labels)
    return max(3.0, 0.32 * lines + 0.12 * len(labels) * matrix["wave"].nunique() + 1.6)


def _save(fig, out_dir: Path, stem: str, paths: dict, key: str) -> None:
    fig.tight_layout()
    paths[key] = out_dir / f"{stem}.png"
    paths[f"{key}_svg"] = out_dir / f"{stem}.svg"
    fig.savefig(paths[key], dpi=PNG_DPI, metadata={"Software": None})
    fig.savefig(paths[f"{key}_svg"], metadata={"Date": None, "Creator": None})


def write_figures(a: Analysis, matrix: pd.DataFrame, out_dir: Path, shifts: pd.DataFrame | None = None) -> dict:
    """Write the figures; returns name -> path (``prevalence``, ``prevalence_svg``, ...) and ``map_note``
    (a sentence) when the map was left out. ``shifts`` with a ``finding`` column marks significant changes."""
    plt = _plt()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict = {}
    waves = list(dict.fromkeys(a.levels["wave"].tolist())) or sorted(matrix["wave"].unique().tolist())
    marks = _marks(shifts)
    fig, ax = plt.subplots(figsize=(10, _height(matrix)))
    _grouped(ax, matrix, "share", "share_lo", "share_hi", "share of the wave's quotes (95% CI, speakers as clusters)",
             waves, marks)
    from matplotlib.ticker import PercentFormatter

    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    title = "Prevalence of each theme by wave"
    if any(marks.values()):
        title += "\n* significant after FDR and robust; † significant but needs care"
    ax.set_title(title, fontsize=10)
    _save(fig, out_dir, "prevalence_by_wave", paths, "prevalence")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(10, _height(matrix)))
    _grouped(ax, matrix, "sentiment_mean", "sentiment_lo", "sentiment_hi", "mean sentiment, -1 to 1 (95% CI)",
             waves, {})
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_title("Sentiment by theme and wave", fontsize=10)
    _save(fig, out_dir, "sentiment_by_theme", paths, "sentiment")
    plt.close(fig)

    n_themes = len(a.themes.themes)
    if n_themes > MAP_MAX_THEMES:
        paths["map_note"] = (f"The 2-D map of quotes is left out: with {n_themes} themes (more than "
                             f"{MAP_MAX_THEMES}) its colours cannot be told apart.")
        return paths
    from sklearn.decomposition import PCA

    # fitted and drawn in the order of the quote ids, so any row order of the input draws the same picture
    order = np.argsort(a.corpus.quotes["quote_id"].astype(str).to_numpy(), kind="stable")
    n_all = len(order)
    if n_all > MAP_MAX_POINTS:
        order = order[np.linspace(0, n_all - 1, MAP_MAX_POINTS).round().astype(np.int64)]
    xy = PCA(n_components=2, svd_solver="full").fit_transform(np.asarray(a.embeddings[order], dtype=np.float32))
    primary = np.asarray(a.themes.primary())[order]
    wave_arr = a.corpus.quotes["wave"].to_numpy()[order]
    fig, ax = plt.subplots(figsize=(10, 6.5))
    labels = a.themes.themes.set_index("theme_id")["label"]
    cmap = plt.get_cmap("tab20")
    for k, tid in enumerate([t for t in labels.index if (primary == t).any()] + [""]):
        sel = primary == tid
        if not sel.any():
            continue
        for w, marker in zip(waves, "o^sDvP", strict=False):
            s2 = sel & (wave_arr == w)
            ax.scatter(xy[s2, 0], xy[s2, 1], s=24, marker=marker, color="lightgrey" if tid == "" else cmap(k % 20),
                       label=(_wrap(labels[tid], 30) if tid else "uncoded") if w == waves[0] else None,
                       edgecolors="none", alpha=0.85)
    markers = ", ".join(f"{m} = {w}" for w, m in zip(waves, "o^sDvP", strict=False))
    shown = f"{len(order):,} of {n_all:,} quotes, evenly spaced by quote id; " if len(order) < n_all else ""
    ax.set_title(f"Quotes by theme ({shown}PCA of sentence embeddings; {markers})", fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    _save(fig, out_dir, "quote_map", paths, "map")
    plt.close(fig)
    return paths
