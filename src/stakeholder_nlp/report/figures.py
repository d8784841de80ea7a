"""PNG figures (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..pipeline import Analysis


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _short(label: str, n: int = 34) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def _grouped(ax, matrix: pd.DataFrame, value: str, lo: str, hi: str, xlabel: str):
    waves = sorted(matrix["wave"].unique().tolist())
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
    ax.set_yticks(y, [_short(labels[t]) for t in themes])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.legend(title="wave")
    ax.grid(axis="x", alpha=0.3)


def write_figures(a: Analysis, matrix: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    plt = _plt()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    n = matrix["theme_id"].nunique()
    fig, ax = plt.subplots(figsize=(9, 0.45 * n + 1.6))
    _grouped(ax, matrix, "share", "share_lo", "share_hi", "share of the wave's quotes (95% cluster-bootstrap CI)")
    ax.set_title("Prevalence of each theme by wave")
    fig.tight_layout()
    paths["prevalence"] = out_dir / "prevalence_by_wave.png"
    fig.savefig(paths["prevalence"], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 0.45 * n + 1.6))
    _grouped(ax, matrix, "sentiment_mean", "sentiment_lo", "sentiment_hi", "mean sentiment, -1 to 1 (95% CI)")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_title("Sentiment by theme and wave")
    fig.tight_layout()
    paths["sentiment"] = out_dir / "sentiment_by_theme.png"
    fig.savefig(paths["sentiment"], dpi=110)
    plt.close(fig)

    from sklearn.decomposition import PCA

    xy = PCA(n_components=2, svd_solver="full").fit_transform(a.embeddings)
    primary = np.asarray(a.themes.primary())
    waves = a.corpus.quotes["wave"].to_numpy()
    fig, ax = plt.subplots(figsize=(9, 6.5))
    labels = a.themes.themes.set_index("theme_id")["label"]
    cmap = plt.get_cmap("tab20")
    for k, tid in enumerate([t for t in labels.index if (primary == t).any()] + [""]):
        sel = primary == tid
        if not sel.any():
            continue
        for w, marker in zip(sorted(set(waves.tolist())), "o^sD", strict=False):
            s2 = sel & (waves == w)
            ax.scatter(xy[s2, 0], xy[s2, 1], s=28, marker=marker, color="lightgrey" if tid == "" else cmap(k % 20),
                       label=(_short(labels[tid], 28) if tid else "uncoded") if w == min(waves) else None,
                       edgecolors="none", alpha=0.85)
    ax.set_title("Quotes by theme (PCA of sentence embeddings; o = first wave, ^ = later)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    paths["map"] = out_dir / "quote_map.png"
    fig.savefig(paths["map"], dpi=110)
    plt.close(fig)
    return paths
