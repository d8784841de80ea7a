"""The model passes ``analyze --ray`` sends to Ray, on a local Ray instance beside the same passes in process.

    .venv/bin/python benchmarks/bench_ray.py [--n 2000] [--workers 2] [--repeats 3]

Real text nobody on this project wrote: ``n`` NHS FFT phase 1 patient comments (../shared/data). Each pass,
the embedding (fast backend, no cache: every text embedded) and the fine-tuned sentiment model's pass, is
timed in this process and through :class:`~stakeholder_nlp.embedding.distributed.RayExecutor` ("local",
``workers`` actors), warm-up first, the median of ``repeats``; the Ray instance's start is timed apart.
The quality figure beside the speed figure: whether the Ray outputs are byte-identical to the in-process ones.
Writes benchmarks/results/ray_local.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import timed, write_result  # noqa: E402
from datasets import nhs  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from stakeholder_nlp.embedding import embed_texts, load_embedder
    from stakeholder_nlp.embedding.distributed import RayExecutor
    from stakeholder_nlp.sentiment.finetuned import FineTunedScorer

    texts, _ = nhs(args.n, seed=0)
    embedder, scorer = load_embedder("fast"), FineTunedScorer()
    passes = {"embedding": lambda ex: embed_texts(texts, embedder, executor=ex).vectors,
              "sentiment": lambda ex: scorer.score_quotes(texts, executor=ex)}
    t = time.perf_counter()
    ray_ex = RayExecutor("local", workers=args.workers).start()
    start_s = time.perf_counter() - t
    rows = {}
    try:
        for name, run in passes.items():
            run(None), run(ray_ex)  # warm-up (the actors' model load counts in each Ray pass: they are rebuilt)
            local_s, local_all, local_out = timed(lambda run=run: run(None), args.repeats)
            ray_s, ray_all, ray_out = timed(lambda run=run: run(ray_ex), args.repeats)
            same = (local_out.tobytes() == ray_out.tobytes() if name == "embedding"
                    else local_out.equals(ray_out))
            rows[name] = {"local_s": local_s, "ray_s": ray_s, "ray_over_local": ray_s / local_s,
                          "local_all_s": local_all, "ray_all_s": ray_all, "identical": bool(same)}
            print(f"{name}: local {local_s:.2f}s, ray {ray_s:.2f}s ({ray_s / local_s:.2f}x), identical {same}")
    finally:
        ray_ex.close()
    print(f"ray start {start_s:.1f}s")
    path = write_result("ray_local", {"n": args.n, "workers": args.workers, "repeats": args.repeats,
                                      "backend": embedder.model_id, "ray_start_s": start_s, "passes": rows})
    print(path)


if __name__ == "__main__":
    main()
