"""Where the memory of ``analyze`` goes (``--runs 0`` unless ``--runs`` says otherwise) as the corpus grows: peak RSS and wall per stage, the RSS each
stage leaves behind, and the size of what the finished analysis holds, on the scale benchmark's mix.

    flock /tmp/heavy.lock nice -n 10 .venv/bin/python benchmarks/bench_scale_memory.py --sizes 10000 30000 \\
        --cache /tmp/scale_cache --label after

The corpus is ``bench_scale.mixed_corpus(n)`` (GoEmotions, NHS FFT, StackOverflow, EmoBank, NewsMTSC from
../shared/data). Every size first has its vectors put into ``--cache`` by a separate process (so that the
measured runs are warm and alike: the embedding stage reads the cache; the cold encoder pass is
``bench_scale.py``'s subject), then runs in its own process: ``analyze(..., runs=0)`` and ``write_report``,
with the process tree's RSS sampled every 0.05 s (this process and its live workers: the lemmatiser's, the
workbook's). Per stage: wall seconds, peak RSS while it ran, RSS when it ended. At the end: bytes held by each
array and DataFrame of the ``Analysis`` (pandas ``memory_usage(deep=True)``), largest first.
Writes benchmarks/results/scale_memory_<label>.json (machine, CPU flags, git commit).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, write_result  # noqa: E402


def _nbytes(v) -> int:
    import numpy as np
    import pandas as pd

    if isinstance(v, np.ndarray):
        return int(v.nbytes) if v.base is None or not isinstance(v.base, np.memmap) else 0
    if isinstance(v, pd.DataFrame):
        return int(v.memory_usage(deep=True).sum())
    if isinstance(v, pd.Series):
        return int(v.memory_usage(deep=True))
    if isinstance(v, list) and v and isinstance(v[0], str):
        return int(sum(sys.getsizeof(x) for x in v) + sys.getsizeof(v))
    return 0


def holdings(result) -> dict[str, int]:
    """Bytes held by the arrays, DataFrames and lists of strings inside the analysis, one level deep into
    the dataclasses it holds (themes, changes, subthemes, corpus, stability)."""
    import dataclasses

    out: dict[str, int] = {}

    def visit(prefix, obj, depth):
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            items = [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
        elif isinstance(obj, dict):
            items = list(obj.items())
        else:
            return
        for name, v in items:
            b = _nbytes(v)
            if b:
                out[f"{prefix}{name}"] = b
            elif depth < 2:
                visit(f"{prefix}{name}.", v, depth + 1)

    visit("", result, 0)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def child(n: int, cache_dir: Path, out_json: Path, backend: str = "fast", runs: int = 0) -> None:
    import gc
    import os
    import threading

    from bench_scale import _proc_cpu_rss, _proc_tree, mixed_corpus
    from common import rss_mb
    from stakeholder_nlp.corpus import load_corpus
    from stakeholder_nlp.embedding import EmbeddingCache, load_embedder
    from stakeholder_nlp.pipeline import analyze
    from stakeholder_nlp.report import write_report

    peaks: dict[str, float] = {}
    ends: dict[str, float] = {}
    walls: dict[str, float] = {}
    state = {"stage": "load", "t": time.perf_counter(), "pids": []}
    stop = threading.Event()

    def tree_rss():
        return rss_mb() + sum(_proc_cpu_rss(p)[1] for p in state["pids"])

    def sample():
        k = 0
        while not stop.is_set():
            if k % 10 == 0:
                state["pids"] = _proc_tree()
            k += 1
            s = state["stage"]
            peaks[s] = max(peaks.get(s, 0.0), tree_rss())
            time.sleep(0.05)

    def on_stage(s):
        now = time.perf_counter()
        walls[state["stage"]] = walls.get(state["stage"], 0.0) + now - state["t"]
        gc.collect()
        ends[state["stage"]] = rss_mb()
        state["stage"], state["t"] = s, now

    threading.Thread(target=sample, daemon=True).start()
    t0 = time.perf_counter()
    corpus = load_corpus(mixed_corpus(n))
    embedder = load_embedder(backend, cache_dir=ROOT / "models" / "cache")
    with EmbeddingCache(cache_dir) as cache:
        result = analyze(corpus, embedder, cache=cache, runs=runs, on_stage=on_stage)
    on_stage("report")
    held = holdings(result)
    with tempfile.TemporaryDirectory() as tmp:
        write_report(result, Path(tmp) / "out", force=True)
        sizes = {p.name: p.stat().st_size for p in (Path(tmp) / "out").iterdir() if p.is_file()}
    on_stage("done")
    stop.set()
    payload = {"n_quotes": len(result.corpus), "wall_s": round(time.perf_counter() - t0, 1),
               "stage_wall_s": {k: round(v, 2) for k, v in walls.items()},
               "stage_peak_rss_mb": {k: round(v, 1) for k, v in peaks.items() if k != "done"},
               "stage_end_rss_mb": {k: round(v, 1) for k, v in ends.items()},
               "peak_rss_mb": round(max(peaks.values()), 1), "analysis_holds_mb":
                   {k: round(v / 2**20, 2) for k, v in held.items() if v >= 2**16},
               "output_file_mb": {k: round(v / 2**20, 2) for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])},
               "sentiment_scorer": result.config.get("sentiment"), "loadavg_end": os.getloadavg()}
    out_json.write_text(json.dumps(payload, indent=2, default=str))


def prefill(n: int, cache_dir: Path, backend: str = "fast") -> None:
    from bench_scale import mixed_corpus
    from stakeholder_nlp.corpus import load_corpus
    from stakeholder_nlp.embedding import EmbeddingCache, embed_texts, load_embedder

    corpus = load_corpus(mixed_corpus(n))
    embedder = load_embedder(backend, cache_dir=ROOT / "models" / "cache")
    with EmbeddingCache(cache_dir) as cache:
        embed_texts(corpus.texts, embedder, cache=cache)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000])
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--label", default="after")
    ap.add_argument("--backend", default="fast", help="embedding backend (fast, static, reference)")
    ap.add_argument("--runs", type=int, default=0, help="stability reruns (analyze's runs; 0: none)")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--prefill", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.prefill is not None:
        prefill(args.prefill, args.cache, args.backend)
        return
    if args.child is not None:
        child(args.child, args.cache, args.child_out, args.backend, args.runs)
        return
    from stakeholder_nlp.embedding.backends import _cpu_flags

    results = []
    for n in args.sizes:
        opts = ["--backend", args.backend, "--runs", str(args.runs)]
        subprocess.run([sys.executable, __file__, "--prefill", str(n), "--cache", str(args.cache), *opts], check=True,
                       cwd=ROOT)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "r.json"
            subprocess.run([sys.executable, __file__, "--child", str(n), "--cache", str(args.cache),
                            "--child-out", str(out), *opts], check=True, cwd=ROOT)
            r = json.loads(out.read_text())
        results.append(r)
        print(f"n={r['n_quotes']}: {r['wall_s']}s peak {r['peak_rss_mb']:.0f} MB | "
              + " ".join(f"{k} {r['stage_wall_s'].get(k, 0):.1f}s/{v:.0f}MB" for k, v in r["stage_peak_rss_mb"].items()),
              flush=True)
        print("  holds (MB):", dict(list(r["analysis_holds_mb"].items())[:12]), flush=True)
        path = write_result(f"scale_memory_{args.label}", {
            "runs": args.runs, "backend": args.backend, "cache": "warm (filled by a separate process first)", "results": results,
            "cpu_flags": sorted(f for f in _cpu_flags() if f.startswith(("avx", "amx")))})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
