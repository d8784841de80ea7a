"""Benchmark data sets, read in place from ../shared/data, embedded once through the project's cache."""

from __future__ import annotations

import numpy as np
import pandas as pd

from common import DATA, ROOT, require


def gp_clusters():
    from stakeholder_nlp.corpus import read_jsonl

    c = read_jsonl(ROOT / "corpus" / "gp_clusters" / "quotes.jsonl")
    return c.texts, {"table_row": [q[0] for q in c.quotes["codes"]]}


def nhs(n: int | None = None, seed: int = 0):
    df = pd.read_csv(require(DATA / "nhs_fft_phase1" / "text_data.csv"))
    df = df[df["feedback"].fillna("").str.strip() != ""]
    if n is not None:
        df = df.sample(n, random_state=seed)
    return df["feedback"].astype(str).tolist(), {"category": df["label"].tolist(),
                                                   "subcategory": df["subcategory"].tolist()}


def stackoverflow():
    df = pd.read_csv(require(DATA / "stackoverflow_titles" / "stackoverflow_titles.csv"))
    text_col = next(c for c in df.columns if "title" in c.lower() or "text" in c.lower())
    label_col = next(c for c in df.columns if c != text_col and ("label" in c.lower() or "tag" in c.lower()))
    return df[text_col].astype(str).tolist(), {"tag": df[label_col].tolist()}


def embed(texts, embedder=None):
    from stakeholder_nlp.embedding import EmbeddingCache, embed_texts, load_embedder

    embedder = embedder or load_embedder("fast")
    with EmbeddingCache(ROOT / "models" / "cache") as cache:
        return np.asarray(embed_texts(texts, embedder, cache=cache).vectors), embedder


def vanilla_bertopic(texts, x, seed):
    """BERTopic with its defaults, only the UMAP seed set (as its FAQ recommends for reproducibility)."""
    from bertopic import BERTopic
    from umap import UMAP

    umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
    model = BERTopic(umap_model=umap, calculate_probabilities=False)
    topics, _ = model.fit_transform(list(texts), np.asarray(x))
    terms = [[w for w, _ in (model.get_topic(t) or [])][:10] for t in sorted(set(topics)) if t != -1]
    return np.asarray(topics), terms
