"""The static embedder (``--backend static``) beside every MiniLM backend: speed and quality, in one run.

    .venv/bin/python benchmarks/bench_static.py [--speed-n 5000] [--repeats 3] [--static-repeats 5]

Speed: texts/s of each backend ``load_embedder`` offers on the same NHS FFT comments (a seeded sample of
``--speed-n``), no cache, one warm-up call on 64 other comments first, the median of the repeats. A
backend that cannot be built here is listed with the reason.
Quality, on all 10,302 NHS FFT phase-1 comments: our TopicModel (``--seeds``) fitted on the static vectors
and on ``fast``'s (MiniLM), NMI / AMI against the human ``label`` (9 categories) and ``subcategory``
codes; zero-shot codebook coding (benchmarks/nhs_fft_codebook.toml, ``ThemeCoder`` without coded
examples, as bench_codebook.py) scored one-vs-rest per category: mean kappa and macro-F1. Writes
benchmarks/results/static.json.
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
from common import DATA, ROOT, machine, require, write_result  # noqa: E402

NHS_CODEBOOK = ROOT / "benchmarks" / "nhs_fft_codebook.toml"


def nhs_frame() -> pd.DataFrame:
    df = pd.read_csv(require(DATA / "nhs_fft_phase1" / "text_data.csv"))
    return df[df["feedback"].fillna("").str.strip() != ""].reset_index(drop=True)


def speed(backends, texts, warm, repeats, static_repeats, threads):
    from stakeholder_nlp.embedding import load_embedder
    from stakeholder_nlp.embedding.backends import fast_backend

    rows = {}
    for name in backends:
        t = time.perf_counter()
        try:
            emb = load_embedder(name, threads=threads)
        except Exception as exc:  # noqa: BLE001 - a backend missing here is reported, not fatal
            rows[name] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"[speed] {name:14s} not available: {exc}", flush=True)
            continue
        load_s = time.perf_counter() - t
        emb.encode(warm)
        times = []
        for _ in range(static_repeats if name == "static" else repeats):
            t = time.perf_counter()
            emb.encode(texts)
            times.append(time.perf_counter() - t)
        med = statistics.median(times)
        rows[name] = {"model_id": emb.model_id, "dim": int(emb.dim), "load_s": load_s, "times_s": times,
                      "median_s": med, "texts_per_s": len(texts) / med,
                      **({"resolves_to": fast_backend()} if name == "fast" else {})}
        print(f"[speed] {name:14s} {len(texts) / med:9.0f} texts/s  (median of {len(times)}, {med:.2f}s; "
              f"load {load_s:.1f}s; {emb.model_id})", flush=True)
        del emb
    return rows


def quality(name, embedder, df, seeds, cache_path):
    from sklearn.metrics import adjusted_mutual_info_score, f1_score, normalized_mutual_info_score

    from stakeholder_nlp.embedding import EmbeddingCache, embed_texts
    from stakeholder_nlp.themes import TopicModel, load_codebook
    from stakeholder_nlp.themes.coder import ThemeCoder
    from stakeholder_nlp.themes.crossval import kappa_columns

    texts = df["feedback"].astype(str).tolist()
    with EmbeddingCache(cache_path) as cache:
        t = time.perf_counter()
        x = np.asarray(embed_texts(texts, embedder, cache=cache).vectors, dtype=np.float32)
        embed_s = time.perf_counter() - t
        book = load_codebook(NHS_CODEBOOK)
        phrases = np.asarray(embed_texts(ThemeCoder(book, embedder).phrases(), embedder, cache=cache).vectors,
                             dtype=np.float32)
    refs = {"category": df["label"].astype(str).tolist(), "subcategory": df["subcategory"].astype(str).tolist()}
    themes = []
    for seed in seeds:
        t = time.perf_counter()
        m = TopicModel(random_state=seed, embedder=embedder).fit(texts, x)
        fit_s = time.perf_counter() - t
        labels = np.asarray(m.labels_)
        themes.append({"seed": seed, "n_topics": int(m.n_topics_), "fit_s": fit_s,
                       "unassigned_share": float((labels == -1).mean()),
                       **{f"{k}_nmi": float(normalized_mutual_info_score(v, labels)) for k, v in refs.items()},
                       **{f"{k}_ami": float(adjusted_mutual_info_score(v, labels)) for k, v in refs.items()}})
    h = book.human_matrix([[c] for c in df["label"]])
    t = time.perf_counter()
    pred = ThemeCoder(book, embedder, phrase_vectors=phrases).fit(x).predict(x).to_numpy()
    code_s = time.perf_counter() - t
    kappa = kappa_columns(h, pred)
    f1 = [float(f1_score(h[:, k], pred[:, k], zero_division=0)) for k in range(h.shape[1])]
    out = {"model_id": embedder.model_id, "n": len(texts), "embed_s_with_cache": embed_s,
           "themes": themes,
           "themes_mean": {k: float(np.mean([r[k] for r in themes])) for k in themes[0] if k != "seed"},
           "codebook_zero_shot": {"themes": book.ids, "kappa": [float(v) for v in kappa],
                                  "mean_kappa": float(np.nanmean(kappa)), "f1": f1, "macro_f1": float(np.mean(f1)),
                                  "themes_per_comment": float(pred.sum(1).mean()),
                                  "uncoded_share": float((pred.sum(1) == 0).mean()), "fit_predict_s": code_s}}
    tm = out["themes_mean"]
    print(f"[quality] {name:8s} themes: category NMI {tm['category_nmi']:.3f} AMI {tm['category_ami']:.3f}, "
          f"subcategory NMI {tm['subcategory_nmi']:.3f} AMI {tm['subcategory_ami']:.3f}, {tm['n_topics']:.0f} "
          f"topics | codebook: macro-F1 {out['codebook_zero_shot']['macro_f1']:.3f} "
          f"kappa {out['codebook_zero_shot']['mean_kappa']:.3f}", flush=True)
    return out


def main() -> None:
    from stakeholder_nlp.embedding import load_embedder
    from stakeholder_nlp.embedding.backends import BACKENDS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--speed-n", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per MiniLM backend")
    ap.add_argument("--static-repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seeds", type=int, default=2, help="TopicModel seeds per embedder")
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--no-quality", action="store_true")
    args = ap.parse_args()

    df = nhs_frame()
    pool = list(dict.fromkeys(df["feedback"].astype(str)))
    rng = np.random.default_rng(0)
    order = rng.permutation(len(pool))
    texts = [pool[i] for i in order[:args.speed_n]]
    warm = [pool[i] for i in order[args.speed_n:args.speed_n + 64]]
    result = {"speed_texts": {"source": "nhs_fft_phase1 feedback, distinct, seeded sample", "n": len(texts),
                              "mean_chars": float(np.mean([len(t) for t in texts]))},
              "speed": speed(args.backends.split(","), texts, warm, args.repeats, args.static_repeats, args.threads)}
    if not args.no_quality:
        seeds = list(range(args.seeds))
        cache = ROOT / "models" / "cache"
        result["quality"] = {"static": quality("static", load_embedder("static"), df, seeds, cache),
                             "fast": quality("fast", load_embedder("fast"), df, seeds, cache)}
        s, f = result["quality"]["static"], result["quality"]["fast"]
        result["static_minus_fast"] = {
            **{k: s["themes_mean"][k] - f["themes_mean"][k] for k in ("category_nmi", "category_ami",
                                                                        "subcategory_nmi", "subcategory_ami")},
            "macro_f1": s["codebook_zero_shot"]["macro_f1"] - f["codebook_zero_shot"]["macro_f1"],
            "mean_kappa": s["codebook_zero_shot"]["mean_kappa"] - f["codebook_zero_shot"]["mean_kappa"]}
        print("[quality] static - fast: " + ", ".join(f"{k} {v:+.3f}" for k, v in result["static_minus_fast"].items()))
    result["cpu_flags"] = machine()["cpu_flags"]
    print(f"wrote {write_result('static', result)}")


if __name__ == "__main__":
    main()
