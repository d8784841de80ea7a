"""Topic stability: vanilla BERTopic (defaults, only the seed varied) vs our TopicModel, same protocol.

    .venv/bin/python benchmarks/bench_stability.py [--runs 10]

For each data set (the GP-cluster corpus; a 2,000-comment sample of the NHS FFT data): N refits over
seeds on all quotes, and N refits on 80% subsamples (each with its own seed); pairwise ARI on shared
quotes (mean, min), mean average Jaccard of top-10 terms (Greene et al. 2014), the range of the number
of themes, wall time. Writes benchmarks/results/stability.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result  # noqa: E402
from datasets import embed, gp_clusters, nhs, vanilla_bertopic  # noqa: E402


def protocol(texts, x, fit, runs, seed=0):
    from stakeholder_nlp.stability import average_jaccard, pairwise_partition_agreement

    rng = np.random.default_rng(seed)
    n = len(texts)
    out = {}
    for kind in ("seed", "subsample"):
        parts, terms, ks = [], [], []
        t = time.perf_counter()
        for r in range(runs):
            idx = np.arange(n) if kind == "seed" else np.sort(rng.choice(n, int(0.8 * n), replace=False))
            labels, top = fit([texts[i] for i in idx], x[idx], r)
            parts.append((idx, labels))
            terms.append(top)
            ks.append(len(set(labels.tolist()) - {-1}))
        wall = time.perf_counter() - t
        aris, _ = pairwise_partition_agreement(parts)
        ajs = [average_jaccard(a, b) for i, a in enumerate(terms) for b in terms[i + 1:]]
        out[kind] = {"ari_mean": float(aris.mean()), "ari_min": float(aris.min()), "aj_mean": float(np.nanmean(ajs)),
                     "n_topics_min": min(ks), "n_topics_max": max(ks), "wall_s": wall, "runs": runs}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    from stakeholder_nlp.stability import LemmaLookup
    from stakeholder_nlp.themes import TopicModel
    from stakeholder_nlp.themes.terms import Lemmatizer

    results = {}
    embedder = None
    for name, (texts, _refs) in (("gp_clusters", gp_clusters()), ("nhs_fft_2000", nhs(2000, seed=0))):
        x, embedder = embed(texts, embedder)
        lookup = LemmaLookup(texts, Lemmatizer()(texts))

        def ours(t, xx, seed, lookup=lookup):
            m = TopicModel(random_state=seed, lemmatizer=lookup).fit(t, xx)
            return m.labels_, m.topic_info_["terms"].tolist()

        results[name] = {"bertopic": protocol(texts, x, vanilla_bertopic, args.runs),
                         "ours": protocol(texts, x, ours, args.runs)}
        for method in ("bertopic", "ours"):
            for kind, r in results[name][method].items():
                print(f"[{name}] {method:8s} {kind:9s} ARI mean {r['ari_mean']:.3f} min {r['ari_min']:.3f} | "
                      f"AJ {r['aj_mean']:.3f} | topics {r['n_topics_min']}-{r['n_topics_max']} | "
                      f"{r['wall_s']:.1f}s", flush=True)
    print(f"wrote {write_result('stability', {'embedder': embedder.model_id, 'results': results})}")


if __name__ == "__main__":
    main()
