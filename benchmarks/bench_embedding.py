"""Embedding throughput and fidelity: sentence-transformers fp32 ``encode(batch_size=32)`` (the 1.0x
anchor) vs our engine on the fast int8 path, same texts, same process.

    .venv/bin/python benchmarks/bench_embedding.py [--repeats 3]

Data: ../shared/data/nhs_fft_phase1/text_data.csv (10,334 comments; ~15% duplicated rows).
Writes benchmarks/results/embedding.json.

    .venv/bin/python benchmarks/bench_embedding.py --backends [--n 2000] [--repeats 2]

Embed-only throughput of every backend on this CPU: the first ``--n`` distinct texts of
``bench_scale.py``'s 10,000-comment mix, each backend through the engine (no cache), one warm-up, the
median of ``--repeats`` rounds, wall and CPU seconds of this process, and the cosine of each text's vector
to the fp32 sentence-transformers reference. Writes benchmarks/results/embedding_backends.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, ROOT, peak_rss, require, timed, write_result  # noqa: E402


def gemm_ceilings() -> dict:
    """Measured fp32 (numpy/BLAS) and int8 (onnxruntime MatMulInteger) GEMM throughput."""
    from onnx import TensorProto, helper

    from stakeholder_nlp.embedding.offline import import_onnxruntime

    ort = import_onnxruntime()  # its telemetry client off, as in the package

    n = 1024
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    a @ a
    t, _, _ = timed(lambda: a @ a, repeats=5)
    fp32 = 2 * n**3 / t / 1e9
    g = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "mm",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [n, n]),
         helper.make_tensor_value_info("B", TensorProto.INT8, [n, n])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [n, n])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    A = np.random.default_rng(1).integers(0, 255, (n, n), dtype=np.uint8)
    B = np.random.default_rng(2).integers(-127, 127, (n, n), dtype=np.int8)
    sess.run(None, {"A": A, "B": B})
    t, _, _ = timed(lambda: sess.run(None, {"A": A, "B": B}), repeats=5)
    int8 = 2 * n**3 / t / 1e9
    return {"fp32_gflops": round(fp32, 1), "int8_gops": round(int8, 1), "matrix": n}


def flop_per_token(seq_len: float, d: int = 384, ff: int = 1536, layers: int = 6) -> float:
    """Multiply-adds x2 of MiniLM-L6 per token: projections, feed-forward and attention."""
    linear = 4 * d * d + 2 * d * ff
    attention = 2 * seq_len * d
    return 2 * layers * (linear + attention)


def topic_labels(texts, vectors, seed, model="bertopic"):
    if model == "ours":
        from stakeholder_nlp.themes import TopicModel

        return TopicModel(random_state=seed, lemmatizer=lambda ts: [t.lower() for t in ts]).fit(texts, vectors).labels_
    from bertopic import BERTopic
    from umap import UMAP

    m = BERTopic(umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                                 random_state=seed), calculate_probabilities=False)
    topics, _ = m.fit_transform(texts, np.asarray(vectors))
    return np.asarray(topics)


BACKEND_ORDER = ("reference", "openvino-fp32", "onnx-fp32", "onnx-int8", "openvino-int8", "openvino-bf16")


def backends(n: int, repeats: int) -> None:
    """Embed-only throughput and fidelity of every backend (see the module docstring)."""
    import os
    import resource

    from bench_scale import mixed_corpus
    from stakeholder_nlp.embedding import embed_texts, load_embedder
    from stakeholder_nlp.embedding.backends import _cpu_flags, fast_backend

    texts = list(dict.fromkeys(mixed_corpus(10_000)["text"].tolist()))[:n]
    warm = [f"warm-up sentence number {i} about the ward and the staff" * (1 + i % 5) for i in range(200)]

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    out, ref = {}, None
    for name in BACKEND_ORDER:
        try:
            e = load_embedder(name, cache_dir=ROOT / "models" / "cache")
        except Exception as exc:  # a backend this machine cannot build is recorded, not fatal
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"{name}: not available ({exc})", flush=True)
            continue
        embed_texts(warm, e)
        walls, cpus, vecs = [], [], None
        for _ in range(repeats):
            c0, t0 = cpu(), time.perf_counter()
            vecs = np.asarray(embed_texts(texts, e).vectors)
            walls.append(time.perf_counter() - t0)
            cpus.append(cpu() - c0)
        if ref is None:
            ref = vecs
        cos = (vecs * ref).sum(1)
        wall, cpu_s = statistics.median(walls), statistics.median(cpus)
        out[name] = {"model_id": e.model_id, "texts_per_s": len(texts) / wall, "texts_per_cpu_s": len(texts) / cpu_s,
                     "wall_s": walls, "cpu_s": cpus, "cosine_to_reference_mean": float(cos.mean()),
                     "cosine_to_reference_min": float(cos.min()), "cosine_to_reference_p01": float(np.percentile(cos, 1))}
        print(f"{name}: {len(texts) / wall:.0f} texts/s ({len(texts) / cpu_s:.0f} per CPU-s), cosine to the reference "
              f"mean {cos.mean():.6f} min {cos.min():.6f}", flush=True)
        del e
    lengths = load_embedder("onnx-fp32", cache_dir=ROOT / "models" / "cache").token_lengths(texts)
    path = write_result("embedding_backends", {
        "n_texts": len(texts), "mean_word_pieces": float(np.mean(lengths)), "repeats": repeats,
        "fast_is": fast_backend(), "cpu_flags": sorted(f for f in _cpu_flags() if f.startswith(("avx", "amx"))),
        "loadavg": os.getloadavg(), "reference": "sentence-transformers fp32 (backend 'reference')", "results": out})
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--topic-sample", type=int, default=2000)
    parser.add_argument("--backends", action="store_true", help="embed-only throughput of every backend")
    parser.add_argument("--n", type=int, default=2000, help="texts for --backends")
    args = parser.parse_args()
    if args.backends:
        backends(args.n, args.repeats if args.repeats != 3 else 2)
        return

    from sklearn.metrics import adjusted_rand_score

    from stakeholder_nlp.embedding import EmbeddingCache, embed_texts, load_embedder

    df = pd.read_csv(require(DATA / "nhs_fft_phase1" / "text_data.csv"))
    rows = df["feedback"].fillna("").astype(str).tolist()
    rows = [r for r in rows if r.strip()]
    unique = list(dict.fromkeys(rows))
    print(f"{len(rows)} rows, {len(unique)} unique ({1 - len(unique) / len(rows):.1%} duplicated)")

    ceilings = gemm_ceilings()
    print("GEMM ceilings:", ceilings)

    reference = load_embedder("reference")
    fast = load_embedder("fast")
    others = {"openvino-int8": load_embedder("openvino-int8"), "onnx-int8": load_embedder("onnx-int8")}
    if fast.model_id.split("/")[1].startswith("ov-int8"):  # already the anchor's rival
        others.pop("openvino-int8")
    st_model = reference._model
    lengths = np.asarray(fast.token_lengths(unique))
    row_lengths = np.asarray(fast.token_lengths(rows))
    warm = [f"warm-up sentence number {i} about the ward and the staff" * (1 + i % 5) for i in range(300)]

    def anchor(texts):
        return st_model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)

    def ours(texts):
        return embed_texts(texts, fast).vectors

    anchor(warm)
    ours(warm)
    for e in others.values():
        e.encode(warm)
    results = {}
    for name, texts, lens in (("unique", unique, lengths), ("file_with_duplicates", rows, row_lengths)):
        with peak_rss() as mem_a:
            t_anchor, all_a, v_anchor = timed(lambda texts=texts: anchor(texts), args.repeats)
        with peak_rss() as mem_o:
            t_ours, all_o, v_ours = timed(lambda texts=texts: ours(texts), args.repeats)
        tokens_anchor = float(np.minimum(lens, 256).sum())
        tokens_ours = float(lens.sum())
        fit = lens <= 256
        cos_anchor = (v_anchor[fit] * v_ours[fit]).sum(1)
        mean_len = float(lens.mean())
        fpt = flop_per_token(mean_len)
        entry = {
            "n_texts": len(texts),
            "anchor": {"texts_per_s": len(texts) / t_anchor, "tokens_per_s": tokens_anchor / t_anchor,
                       "seconds": all_a, "peak_rss_mb": mem_a["peak_mb"],
                       "fp32_ceiling_fraction": tokens_anchor / t_anchor * fpt / (ceilings["fp32_gflops"] * 1e9)},
            "ours": {"texts_per_s": len(texts) / t_ours, "tokens_per_s": tokens_ours / t_ours,
                     "seconds": all_o, "peak_rss_mb": mem_o["peak_mb"],
                     "int8_ceiling_fraction": tokens_ours / t_ours * fpt / (ceilings["int8_gops"] * 1e9)},
            "speedup": t_anchor / t_ours,
            "cosine_vs_anchor_on_texts_within_window": {"mean": float(cos_anchor.mean()),
                                                        "min": float(cos_anchor.min()), "n": int(fit.sum())},
        }
        if name == "unique":
            for label, e in others.items():
                t_o, all_x, v_x = timed(lambda texts=texts, e=e: embed_texts(texts, e).vectors, args.repeats)
                c = (v_anchor[fit] * v_x[fit]).sum(1)
                entry[label] = {"model_id": e.model_id, "texts_per_s": len(texts) / t_o, "seconds": all_x,
                                "speedup": t_anchor / t_o, "cosine_mean": float(c.mean()), "cosine_min": float(c.min())}
                print(f"[{name}] {label}: {len(texts) / t_o:.0f} texts/s -> {t_anchor / t_o:.2f}x; cosine mean "
                      f"{c.mean():.4f} min {c.min():.4f}", flush=True)
        results[name] = entry
        print(f"[{name}] anchor {entry['anchor']['texts_per_s']:.0f} texts/s, ours "
              f"{entry['ours']['texts_per_s']:.0f} texts/s -> {entry['speedup']:.2f}x; cosine mean "
              f"{cos_anchor.mean():.4f} min {cos_anchor.min():.4f}")

    # fidelity against the fp32 reference through the same engine (same long-text handling)
    ref_engine = embed_texts(unique, reference).vectors
    fast_vecs = embed_texts(unique, fast).vectors
    cos = (ref_engine * fast_vecs).sum(1)
    results["cosine_vs_fp32_reference_engine"] = {"mean": float(cos.mean()), "min": float(cos.min()),
                                                  "p01": float(np.percentile(cos, 1)),
                                                  "n_long_split": embed_texts(unique, fast).n_long_split}
    print(f"cosine vs fp32 reference (same engine): mean {cos.mean():.4f} min {cos.min():.4f}")

    # cache: cold vs fully cached re-run
    with tempfile.TemporaryDirectory() as tmp, EmbeddingCache(tmp) as cache:
        t0 = time.perf_counter()
        embed_texts(rows, fast, cache=cache)
        cold = time.perf_counter() - t0
        warm_times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            res = embed_texts(rows, fast, cache=cache)
            warm_times.append(time.perf_counter() - t0)
        assert res.n_embedded == 0
    results["cache"] = {"cold_s": cold, "cached_s": statistics.median(warm_times),
                        "speedup": cold / statistics.median(warm_times)}
    print(f"cache: cold {cold:.2f} s, cached {statistics.median(warm_times):.3f} s -> "
          f"{results['cache']['speedup']:.0f}x")

    # downstream: does quantisation move topic labels more than a change of seed does?
    rng = np.random.default_rng(0)
    idx = rng.choice(len(unique), size=min(args.topic_sample, len(unique)), replace=False)
    sample = [unique[i] for i in idx]
    results["topics"] = {}
    sub = np.sort(rng.choice(len(sample), int(0.8 * len(sample)), replace=False))
    for model in ("bertopic", "ours"):
        l_fp32_0 = topic_labels(sample, ref_engine[idx], 0, model)
        l_fp32_1 = topic_labels(sample, ref_engine[idx], 1, model)
        l_fast_0 = topic_labels(sample, fast_vecs[idx], 0, model)
        l_sub = topic_labels([sample[i] for i in sub], ref_engine[idx][sub], 0, model)
        results["topics"][model] = {
            "n": len(sample), "ari_fp32_vs_fast_same_seed": adjusted_rand_score(l_fp32_0, l_fast_0),
            "ari_fp32_seed0_vs_seed1": adjusted_rand_score(l_fp32_0, l_fp32_1),
            "ari_fp32_full_vs_80pct_subsample": adjusted_rand_score(l_fp32_0[sub], l_sub)}
        print(f"topics ({model}):", {k: round(v, 3) for k, v in results["topics"][model].items()}, flush=True)
    path = write_result("embedding", {"gemm": ceilings, "backend": fast.model_id,
                                      "anchor": "sentence-transformers encode(batch_size=32) fp32",
                                      "results": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
