"""The sentiment trade at scale: the fine-tuned scorer's own encoder pass vs the embedding head on the vectors
the embedding stage already made, in one run.

    flock /tmp/heavy.lock nice -n 10 .venv/bin/python benchmarks/bench_sentiment_scale.py [--n 10000]

Quality: macro-F1 and accuracy of both scorers on the held-out sets the default scorer is validated on
(``bench_sentiment.eval_sets``: NHS FFT test, GoEmotions test, NewsMTSC rw, PhraseBank AllAgree / 50Agree,
EmoBank test; none trained on by either scorer). Speed: seconds per 10,000 comments of ``score_corpus`` as the
sentiment stage runs it, on the first ``--n`` comments of the scale benchmark's mix (``bench_scale.mixed_corpus``)
after a warm-up, median of ``--rounds`` interleaved rounds: the fine-tuned scorer (sentence splitting, its own
4-layer MiniLM pass) and the head reading the embedding stage's vectors (a 384 x 3 product); beside them the
embedding pass itself (paid once by the pipeline whichever scorer runs). Writes
benchmarks/results/sentiment_scale.json (machine, CPU flags, git commit).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, write_result  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cache", type=Path, default=None, help="embedding cache to reuse (default: a fresh one)")
    args = ap.parse_args()
    from sklearn.metrics import accuracy_score, f1_score

    from bench_scale import mixed_corpus
    from bench_sentiment import eval_sets
    from stakeholder_nlp.embedding import EmbeddingCache, embed_texts, load_embedder
    from stakeholder_nlp.embedding.backends import _cpu_flags
    from stakeholder_nlp.sentiment import EmbeddingHeadScorer, FineTunedScorer
    from stakeholder_nlp.sentiment.apply import score_corpus
    from stakeholder_nlp.sentiment.scorers import SHARED_ENCODER_ABOVE

    embedder = load_embedder("fast", cache_dir=ROOT / "models" / "cache")
    tuned, head = FineTunedScorer(), EmbeddingHeadScorer(embedder)
    cold = args.cache is None or not args.cache.exists()
    with tempfile.TemporaryDirectory() as tmp, EmbeddingCache(args.cache or Path(tmp) / "cache") as cache:
        # quality: every distinct text once per scorer; the head reads the same vectors the pipeline would make
        sets = eval_sets()
        union = list(dict.fromkeys(t for df in sets.values() for t in df["text"].tolist()))
        t = time.perf_counter()
        x_union = embed_texts(union, embedder, cache=cache).vectors
        print(f"embedded {len(union)} held-out texts in {time.perf_counter() - t:.0f} s", flush=True)
        p = head.proba_vectors(x_union)
        by_head = dict(zip(union, np.asarray(head.classes)[p.argmax(1)].tolist(), strict=True))
        t = time.perf_counter()
        by_tuned = dict(zip(union, tuned.label(union), strict=True))
        print(f"fine-tuned scorer: {len(union)} texts in {time.perf_counter() - t:.0f} s", flush=True)
        quality = {}
        for name, df in sets.items():
            gold = df["label3"].tolist()
            row = {"n": len(df)}
            for sname, got in (("minilm-sentiment", by_tuned), ("embedding-head", by_head)):
                pred = [got[x] for x in df["text"]]
                row[f"{sname}_macro_f1"] = float(f1_score(gold, pred, average="macro"))
                row[f"{sname}_accuracy"] = float(accuracy_score(gold, pred))
            row["macro_f1_loss"] = row["minilm-sentiment_macro_f1"] - row["embedding-head_macro_f1"]
            quality[name] = row
            print(f"{name:18s} n={row['n']:5d} macro-F1 fine-tuned {row['minilm-sentiment_macro_f1']:.3f} "
                  f"head {row['embedding-head_macro_f1']:.3f} (loss {row['macro_f1_loss']:+.3f})", flush=True)

        # speed: the sentiment stage's call on the scale mix, both scorers, interleaved rounds
        df = mixed_corpus(args.n)
        q = df[["quote_id", "text", "speaker"]]
        texts = q["text"].tolist()
        t = time.perf_counter()
        x = embed_texts(texts, embedder, cache=cache).vectors
        embed_s = time.perf_counter() - t
        print(f"embedding pass (cache {'cold' if cold else 'warm'}): {len(texts)} texts in {embed_s:.1f} s",
              flush=True)
        warm = q.iloc[:500]
        score_corpus(tuned, warm)
        score_corpus(head, warm, vectors=x[:500])
        walls: dict[str, list[float]] = {"minilm-sentiment": [], "embedding-head (shared vectors)": []}
        for r in range(args.rounds):
            order = list(walls) if r % 2 == 0 else list(walls)[::-1]
            for name in order:
                t = time.perf_counter()
                if name == "minilm-sentiment":
                    a = score_corpus(tuned, q)
                else:
                    b = score_corpus(head, q, vectors=x)
                walls[name].append(time.perf_counter() - t)
            print(f"round {r}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in walls.items()), flush=True)
        per10k = {k: float(np.median(v)) * 10_000 / len(texts) for k, v in walls.items()}
        agree = float(np.mean(np.asarray(a.labels) == np.asarray(b.labels)))
        corr = float(np.corrcoef(a.scores, b.scores)[0, 1])
    mean_loss = float(np.mean([r["macro_f1_loss"] for r in quality.values()]))
    out = write_result("sentiment_scale", {
        "threshold_quotes": SHARED_ENCODER_ABOVE, "embedder": embedder.model_id, "quality": quality,
        "mean_macro_f1_loss": mean_loss,
        "speed": {"n": len(texts), "rounds": args.rounds, "seconds_per_10k_median": per10k,
                  "seconds_each": {k: [round(s, 3) for s in v] for k, v in walls.items()},
                  "embedding_pass_seconds_per_10k": embed_s * 10_000 / len(texts),
                  "embedding_cache": "cold" if cold else "warm"},
        "on_the_scale_mix": {"label_agreement": agree, "score_pearson": corr},
        "cpu_flags": sorted(f for f in _cpu_flags() if f.startswith(("avx", "amx")))})
    print(f"seconds per 10k: {per10k}; mean macro-F1 loss {mean_loss:.3f}; label agreement {agree:.3f}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
