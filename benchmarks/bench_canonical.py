"""What canonical batch shapes cost on the default backend: throughput with and without them (same embedder,
same process, interleaved rounds, median), the rows and tokens computed beyond the real ones (fill rows,
padding; independent of machine load), and how far a text's vector moves with its batch neighbours.

    .venv/bin/python benchmarks/bench_canonical.py [--n 1000] [--rounds 3]

Data: ../shared/data/nhs_fft_phase1/text_data.csv (unique comments). Writes
benchmarks/results/canonical_batching.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, require, write_result  # noqa: E402


def shape_cost(embedder, texts: list[str], canonical: bool) -> dict:
    """Rows and tokens the runtime computes for ``texts`` (real + fill rows, real + padding tokens)."""
    from stakeholder_nlp.embedding.batching import token_budget_batches

    lengths = np.asarray(embedder.tokenizer.token_lengths(texts))
    m = embedder.tokenizer.pad_multiple
    rounded = -(-lengths // m) * m
    if canonical:
        batches = embedder.canonical_batches(rounded)
    else:
        batches = [(b, len(b)) for b in token_budget_batches(rounded, max_tokens=embedder._max_batch_tokens,
                                                             max_batch=128)]
    rows = sum(n for _, n in batches)
    tokens = sum(n * int(rounded[idx].max()) for idx, n in batches)
    return {"batches": len(batches), "rows": int(rows), "real_rows": len(texts), "tokens": int(tokens),
            "real_tokens": int(lengths.sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from stakeholder_nlp.embedding import load_embedder

    df = pd.read_csv(require(DATA / "nhs_fft_phase1" / "text_data.csv"))
    texts = list(dict.fromkeys(df["feedback"].dropna().astype(str)))[: args.n]
    emb = load_embedder("fast")
    emb.encode(texts[:100])
    times: dict[bool, list[float]] = {False: [], True: []}
    vecs = {}
    for _ in range(args.rounds):
        for canonical in (False, True):
            emb.canonical = canonical
            t = time.perf_counter()
            vecs[canonical] = emb.encode(texts)
            times[canonical].append(time.perf_counter() - t)
    sample = texts[:200]
    drift = {}
    for canonical in (False, True):
        emb.canonical = canonical
        together = emb.encode(sample)
        alone = np.stack([emb.encode([t])[0] for t in sample])
        drift[canonical] = float(np.abs(together - alone).max())
    emb.canonical = True
    result = {
        "model_id": emb.model_id, "n_texts": len(texts), "rounds": args.rounds,
        "texts_per_s": {("canonical" if k else "length_sorted"): round(len(texts) / statistics.median(v), 1)
                        for k, v in times.items()},
        "seconds": {("canonical" if k else "length_sorted"): [round(x, 2) for x in v] for k, v in times.items()},
        "shape_cost": {"canonical": shape_cost(emb, texts, True), "length_sorted": shape_cost(emb, texts, False)},
        "max_abs_diff_batched_vs_alone": {("canonical" if k else "length_sorted"): v for k, v in drift.items()},
        "max_abs_diff_canonical_vs_length_sorted": float(np.abs(vecs[True] - vecs[False]).max()),
    }
    path = write_result("canonical_batching", result)
    print(result)
    print("wrote", path)


if __name__ == "__main__":
    main()
