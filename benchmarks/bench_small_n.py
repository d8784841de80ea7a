"""Small-N theme stability against peers: same embeddings, same subsamples, same run.

    .venv/bin/python benchmarks/bench_small_n.py [--runs 10] [--sizes 100 300 1000] [--methods ...]

Data (read in place): N=100: the built-in GP-cluster corpus (all 120 quotes; human codes = the source
table's row); N=300: a seeded sample of NHS FFT phase 1 comments (labels: the 9 categories); N=1000: a
seeded sample of StackOverflow titles (20 tags). Embeddings: the project's fast backend, computed once.

Methods: ours (``TopicModel()`` defaults: consensus of subsample fits, k chosen by excess stability +
silhouette); BERTopic with its defaults (UMAP seeded) and tuned for small N (UMAP n_neighbors 10,
HDBSCAN min_cluster_size max(3, N/40), min_samples 1, outliers reassigned by embedding similarity);
Turftopic (MIT) KeyNMF, GMM and Topeax with ``n_components="auto"`` where the model takes one (our
embedder is passed as their encoder, so nothing is downloaded; vocabulary: every word but English stop
words, since their default keeps only words in 10+ documents).

Per method and N: ten 80% subsamples (one seed per subsample) -> mean and min pairwise ARI on shared
quotes (-1/outliers count as a label), average Jaccard of top-10 terms (Greene et al. 2014); a fit on
all N -> ARI/NMI against the human labels, number of themes and its absolute percentage error against
the number of human categories (averaged over the data sets: MAPE); median fit time.
Writes benchmarks/results/small_n.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result  # noqa: E402
from datasets import embed, gp_clusters, nhs, stackoverflow, vanilla_bertopic  # noqa: E402


class _Encoder:
    """The project's embedder behind the ``encode`` call Turftopic makes (so it never downloads one)."""

    def __init__(self, embedder):
        self.embedder = embedder

    def encode(self, sentences, **_kw):
        return np.asarray(self.embedder.encode(list(sentences), batch_size=64))


def data(n: int):
    if n <= 150:
        texts, refs = gp_clusters()
        return "gp_clusters", texts, [str(v) for v in refs["table_row"]]
    if n <= 500:
        texts, refs = nhs(n, seed=0)
        return f"nhs_fft_{n}", texts, [str(v) for v in refs["category"]]
    texts, refs = stackoverflow()
    pick = np.sort(np.random.default_rng(0).choice(len(texts), n, replace=False))
    return f"stackoverflow_{n}", [texts[i] for i in pick], [str(refs["tag"][i]) for i in pick]


def method_fns(embedder, lookup):
    def ours(texts, x, seed):
        from stakeholder_nlp.themes import TopicModel

        m = TopicModel(random_state=seed, lemmatizer=lookup).fit(texts, x)
        return m.labels_, m.topic_info_["terms"].tolist()

    def bertopic_tuned(texts, x, seed):
        from bertopic import BERTopic
        from hdbscan import HDBSCAN
        from umap import UMAP

        n = len(texts)
        umap = UMAP(n_neighbors=min(10, n - 2), n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
        hdb = HDBSCAN(min_cluster_size=max(3, n // 40), min_samples=1, prediction_data=True)
        model = BERTopic(umap_model=umap, hdbscan_model=hdb, calculate_probabilities=False)
        topics, _ = model.fit_transform(list(texts), np.asarray(x))
        if (np.asarray(topics) == -1).any() and len(set(topics) - {-1}):
            topics = model.reduce_outliers(list(texts), topics, strategy="embeddings", embeddings=np.asarray(x))
        terms = [[w for w, _ in (model.get_topic(t) or [])][:10] for t in sorted(set(topics)) if t != -1]
        return np.asarray(topics), terms

    def turf(cls_name):
        def fit(texts, x, seed):
            import turftopic

            cls = getattr(turftopic, cls_name)
            from sklearn.feature_extraction.text import CountVectorizer

            # Turftopic's default vocabulary keeps words in >= 10 documents: a handful at N=100; all words
            # (English stop words out) here, so that every model has terms to show
            kwargs = {"encoder": _Encoder(embedder), "random_state": seed,
                      "vectorizer": CountVectorizer(stop_words="english")}
            if cls_name in ("KeyNMF", "GMM"):
                kwargs["n_components"] = "auto"
            model = cls(**kwargs)
            doc_topic = np.asarray(model.fit_transform(list(texts), embeddings=np.asarray(x)))
            labels = doc_topic.argmax(1)
            terms = [[w for w, _ in words][:10] for _, words in model.get_topics(top_k=10)]
            return labels, terms
        return fit

    return {"ours": ours, "bertopic_default": vanilla_bertopic, "bertopic_tuned": bertopic_tuned,
            "turftopic_keynmf": turf("KeyNMF"), "turftopic_gmm": turf("GMM"), "turftopic_topeax": turf("Topeax")}


def protocol(texts, x, labels, fit, runs):
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from stakeholder_nlp.stability import average_jaccard, pairwise_partition_agreement

    rng = np.random.default_rng(0)
    n = len(texts)
    parts, terms, ks, times = [], [], [], []
    for r in range(runs):
        idx = np.sort(rng.choice(n, int(0.8 * n), replace=False))
        t = time.perf_counter()
        lab, top = fit([texts[i] for i in idx], x[idx], r)
        times.append(time.perf_counter() - t)
        parts.append((idx, np.asarray(lab)))
        terms.append(top)
        ks.append(len(set(np.asarray(lab).tolist()) - {-1}))
    aris, _ = pairwise_partition_agreement(parts)
    ajs = [average_jaccard(a, b) for i, a in enumerate(terms) for b in terms[i + 1:]]
    full, _ = fit(texts, x, 0)
    full = np.asarray(full)
    k_true = len(set(labels))
    k = len(set(full.tolist()) - {-1})
    return {"sub_ari_mean": float(aris.mean()), "sub_ari_min": float(aris.min()), "aj_mean": float(np.nanmean(ajs)),
            "label_ari": float(adjusted_rand_score(labels, full)),
            "label_nmi": float(normalized_mutual_info_score(labels, full)),
            "n_themes": k, "n_themes_sub_min": min(ks), "n_themes_sub_max": max(ks), "n_labels": k_true,
            "ape": abs(k - k_true) / k_true, "outlier_share": float((full == -1).mean()),
            "fit_s_median": statistics.median(times), "runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    ap.add_argument("--methods", nargs="+", default=None)
    ap.add_argument("--out-name", default="small_n", help="results file name (benchmarks/results/NAME.json)")
    args = ap.parse_args()
    from stakeholder_nlp.stability import LemmaLookup
    from stakeholder_nlp.themes.terms import Lemmatizer

    embedder, results = None, {}
    lemmatizer = Lemmatizer()
    for size in args.sizes:
        name, texts, labels = data(size)
        x, embedder = embed(texts, embedder)
        fns = method_fns(embedder, LemmaLookup(texts, lemmatizer(texts)))
        results[name] = {}
        for method in args.methods or list(fns):
            try:
                r = protocol(texts, x, labels, fns[method], args.runs)
            except Exception as exc:  # a peer failing on a size is a result too; say what it was
                r = {"error": f"{type(exc).__name__}: {exc}"}
            results[name][method] = r
            if "error" in r:
                print(f"[{name}] {method:18s} failed: {r['error']}", flush=True)
                continue
            print(f"[{name}] {method:18s} subARI {r['sub_ari_mean']:.3f} (min {r['sub_ari_min']:.3f}) "
                  f"AJ {r['aj_mean']:.3f} | labels ARI {r['label_ari']:.3f} NMI {r['label_nmi']:.3f} | "
                  f"k {r['n_themes']} ({r['n_themes_sub_min']}-{r['n_themes_sub_max']}) vs {r['n_labels']} | "
                  f"outliers {r['outlier_share']:.0%} | fit {r['fit_s_median']:.1f}s", flush=True)
    mape = {}
    for method in {m for v in results.values() for m in v}:
        apes = [v[method]["ape"] for v in results.values() if method in v and "ape" in v[method]]
        mape[method] = float(np.mean(apes)) if apes else None
    print("MAPE of the number of themes:", {k: round(v, 2) for k, v in mape.items() if v is not None})
    path = write_result(args.out_name, {"embedder": embedder.model_id, "results": results, "mape": mape,
                                    "runs": args.runs})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
