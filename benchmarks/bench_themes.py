"""Themes: vanilla BERTopic (defaults, seeded) vs our TopicModel, in one run.

    .venv/bin/python benchmarks/bench_themes.py [--seeds 10] [--scale 100000]

GP-cluster corpus: ARI/NMI against the table-row codes, outlier share, seed-to-seed ARI over the seeds.
NHS FFT (10,302 comments): ARI/NMI against 9 categories and 44 subcategories. StackOverflow titles (20,000):
NMI against 20 tags (published TF-IDF + k-means: NMI 0.156). Fit time and peak RSS beside each.
Scale: fit time and peak memory of our model on --scale short texts. Writes benchmarks/results/themes.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import peak_rss, write_result  # noqa: E402
from datasets import embed, gp_clusters, nhs, stackoverflow, vanilla_bertopic  # noqa: E402


def agreement(labels, refs):
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {name: {"ari": adjusted_rand_score(ref, labels), "nmi": normalized_mutual_info_score(ref, labels)}
            for name, ref in refs.items()}


def ours(texts, x, seed, embedder):
    from stakeholder_nlp.themes import TopicModel

    m = TopicModel(random_state=seed, embedder=embedder).fit(texts, x)
    return m.labels_, m.topic_info_["terms"].tolist()


def evaluate(name, texts, x, refs, seeds, embedder):
    out = {"n": len(texts)}
    for method in ("bertopic", "ours"):
        runs, times = [], []
        with peak_rss() as mem:
            for s in seeds:
                t = time.perf_counter()
                labels, _ = vanilla_bertopic(texts, x, s) if method == "bertopic" else ours(texts, x, s, embedder)
                times.append(time.perf_counter() - t)
                runs.append(labels)
        from sklearn.metrics import adjusted_rand_score

        seed_ari = [adjusted_rand_score(a, b) for a, b in combinations(runs, 2)]
        first = runs[0]
        out[method] = {"agreement": agreement(first, refs), "n_topics": int(len(set(first.tolist()) - {-1})),
                       "outlier_share": float((first == -1).mean()), "fit_s_median": float(np.median(times)),
                       "peak_rss_mb": mem["peak_mb"], "n_seeds": len(seeds),
                       "seed_ari_mean": float(np.mean(seed_ari)) if seed_ari else None,
                       "seed_ari_min": float(np.min(seed_ari)) if seed_ari else None}
        a = out[method]["agreement"]
        print(f"[{name}] {method:8s} " + " ".join(f"{k}: ARI {v['ari']:.3f} NMI {v['nmi']:.3f}" for k, v in a.items())
              + f" | topics {out[method]['n_topics']} outliers {out[method]['outlier_share']:.0%}"
              + (f" | seed ARI {out[method]['seed_ari_mean']:.2f}" if seed_ari else "")
              + f" | fit {out[method]['fit_s_median']:.1f}s, peak {mem['peak_mb']:.0f} MB", flush=True)
    return out


def scale(n: int, embedder) -> dict:
    from stakeholder_nlp.themes import TopicModel

    so, _ = stackoverflow()
    nh, _ = nhs()
    rng = np.random.default_rng(0)
    texts = list(dict.fromkeys(so + nh))
    while len(texts) < n:
        a, b = rng.choice(len(so), 2, replace=False)
        texts.append(f"{so[a]} and {so[b].lower()}")
    texts = list(dict.fromkeys(texts))[:n]
    t = time.perf_counter()
    x, _ = embed(texts, embedder)
    embed_s = time.perf_counter() - t
    with peak_rss() as mem:
        t = time.perf_counter()
        m = TopicModel(random_state=0, embedder=embedder).fit(texts, x)
        fit_s = time.perf_counter() - t
    res = {"n": len(texts), "embed_s": embed_s, "fit_s": fit_s, "peak_rss_mb": mem["peak_mb"],
           "n_topics": m.n_topics_, "unassigned_share": float((m.labels_ == -1).mean())}
    print(f"[scale] {len(texts)} texts: fit {fit_s:.0f}s (embedding {embed_s:.0f}s), peak {mem['peak_mb']:.0f} MB, "
          f"{m.n_topics_} topics", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--large-seeds", type=int, default=2)
    ap.add_argument("--scale", type=int, default=100_000)
    args = ap.parse_args()
    results = {}
    texts, refs = gp_clusters()
    x, embedder = embed(texts)
    results["gp_clusters"] = evaluate("gp_clusters", texts, x, refs, list(range(args.seeds)), embedder)
    texts, refs = nhs()
    x, _ = embed(texts, embedder)
    results["nhs_fft"] = evaluate("nhs_fft", texts, x, refs, list(range(args.large_seeds)), embedder)
    texts, refs = stackoverflow()
    x, _ = embed(texts, embedder)
    results["stackoverflow"] = evaluate("stackoverflow", texts, x, refs, list(range(args.large_seeds)), embedder)
    results["stackoverflow"]["published_tfidf_kmeans_nmi"] = 0.156
    if args.scale:
        results["scale"] = scale(args.scale, embedder)
    print(f"wrote {write_result('themes', {'embedder': embedder.model_id, 'results': results})}")


if __name__ == "__main__":
    main()
