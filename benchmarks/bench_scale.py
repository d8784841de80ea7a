"""End-to-end ``analyze`` at scale: wall time and peak RSS per stage, defaults (stability included).

    .venv/bin/python benchmarks/bench_scale.py [--sizes 1000 10000 100000] [--runs N] [--label after]

The corpus is real text nobody on this project wrote, read in place from ../shared/data: GoEmotions
(Reddit), NHS FFT phase 1 (patient comments), StackOverflow titles, EmoBank and NewsMTSC sentences,
interleaved so that every size mixes all five, split into two waves by a hash of the row, one speaker per
comment (survey-style). Each size runs in its own Python process (clean peak RSS) with a fresh, empty
embedding cache (cold: every text is embedded); the fast backend's model files come from models/cache.
Per stage: wall seconds (``Analysis.timings``), CPU seconds of the process tree (user + system, all threads,
worker processes included: the lemmatiser's and the stability reruns' loky workers; robust to other jobs on
a shared machine) and the tree's peak RSS while that stage ran (this process plus its live workers); the
load average at the start and end says how shared the machine was.
Writes benchmarks/results/scale_<label>.json.
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
from common import DATA, ROOT, require, write_result  # noqa: E402


def _sources():
    import pandas as pd

    go = pd.read_csv(require(DATA / "goemotions" / "goemotions_sentiment.csv"))["text"]
    nhs = pd.read_csv(require(DATA / "nhs_fft_phase1" / "text_data.csv"))["feedback"]
    so = pd.read_csv(require(DATA / "stackoverflow_titles" / "stackoverflow_titles.csv"))["title"]
    eb = pd.read_csv(require(DATA / "emobank" / "emobank.csv"))["text"]
    news = []
    for name in ("train.jsonl", "devtest_mt.jsonl", "devtest_rw.jsonl"):
        with open(require(DATA / "newsmtsc" / name), encoding="utf-8") as fh:
            news += [json.loads(line)["sentence_normalized"] for line in fh if line.strip()]
    out = {}
    for name, s in (("goemotions", go), ("nhs_fft", nhs), ("stackoverflow", so), ("emobank", eb),
                    ("newsmtsc", pd.Series(news))):
        s = s.dropna().astype(str).str.strip()
        out[name] = s[s != ""].tolist()
    return out


def mixed_corpus(n: int):
    """The first ``n`` rows of a round-robin over the five sources (each source in a fixed shuffled
    order), with a wave from a hash of the row and one speaker per row.

    The five sources hold about 102,000 distinct texts. Beyond a source's own texts, its rows are
    **composites** (once every source's own texts are used, again round-robin): two of a source's texts, in
    a fixed pseudo-random pairing, joined by a space (a survey comment is often two sentences), skipped where
    the joined text already exists, so that every row's text is distinct at any ``n`` (``composite`` marks
    them; at 1,000,000 rows 90% are composites, 28 words on average)."""
    import hashlib

    import numpy as np
    import pandas as pd

    rows = []
    seen: set[str] = set()
    pools = {k: [v[i] for i in np.random.default_rng(7).permutation(len(v))] for k, v in _sources().items()}
    pos = dict.fromkeys(pools, 0)
    pair_rng = {k: np.random.default_rng(hash_key(k)) for k in pools}
    pending: dict[str, list] = {k: [] for k in pools}

    def composite(k):
        pool = pools[k]
        while True:
            if not pending[k]:
                a, b = pair_rng[k].integers(0, len(pool), size=(2, 65_536))
                pending[k] = [(int(i), int(j)) for i, j in zip(a, b, strict=True) if i != j][::-1]
            i, j = pending[k].pop()
            text = pool[i] + " " + pool[j]
            if text not in seen:
                return text

    while len(rows) < n:
        singles = any(pos[k] < len(pools[k]) for k in pools)
        for k in pools:
            if len(rows) >= n:
                break
            if singles:
                if pos[k] >= len(pools[k]):
                    continue
                text, comp = pools[k][pos[k]], False
                pos[k] += 1
                if text in seen:
                    continue
            else:
                text, comp = composite(k), True
            seen.add(text)
            rows.append((k, text, comp))
    df = pd.DataFrame(rows, columns=["source", "text", "composite"])
    df["quote_id"] = [f"q{i}" for i in range(len(df))]
    df["speaker"] = [f"s{i}" for i in range(len(df))]
    df["wave"] = [2023 + (hashlib.sha256(t.encode()).digest()[0] & 1) for t in df["text"]]
    return df


def hash_key(name: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def _proc_tree() -> list[int]:
    """Pids of this process's live descendants (from /proc: no extra dependency)."""
    import os

    parent: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    parent[int(d)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    out, frontier = [], [os.getpid()]
    while frontier:
        kids = [p for p, pp in parent.items() if pp in frontier]
        out += kids
        frontier = kids
    return out


def _proc_cpu_rss(pid: int) -> tuple[float, float]:
    """(user + system CPU seconds, RSS in MB) of a live process; (0, 0) if it has gone."""
    import os

    try:
        with open(f"/proc/{pid}/stat") as fh:
            f = fh.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (int(f[11]) + int(f[12])) / tick, int(f[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0


def child(n: int, runs: int | None, out_json: Path, backend: str = "fast", keep: Path | None = None,
          scorer: str | None = None) -> None:
    """One size, in this process: load, analyze (cold cache), write the report."""
    import os
    import resource
    import threading

    import stakeholder_nlp
    from common import rss_mb
    from stakeholder_nlp.corpus import load_corpus
    from stakeholder_nlp.embedding import EmbeddingCache, load_embedder
    from stakeholder_nlp.embedding.backends import _cpu_flags
    from stakeholder_nlp.pipeline import analyze
    from stakeholder_nlp.report import write_report

    kids: dict[str, list[int]] = {"pids": []}

    def cpu():
        """This process + reaped children (rusage) + live workers (/proc)."""
        own = resource.getrusage(resource.RUSAGE_SELF)
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        live = sum(_proc_cpu_rss(p)[0] for p in _proc_tree())
        return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime + live

    peaks: dict[str, float] = {}
    cpu_s: dict[str, float] = {}
    state = {"stage": "load", "cpu": cpu()}
    load_start = os.getloadavg()
    stop = threading.Event()

    def sample():
        k = 0
        while not stop.is_set():
            if k % 10 == 0:  # the /proc scan for new workers every 0.5 s, their RSS every 0.05 s
                kids["pids"] = _proc_tree()
            k += 1
            s = state["stage"]
            tree = rss_mb() + sum(_proc_cpu_rss(p)[1] for p in kids["pids"])
            peaks[s] = max(peaks.get(s, 0.0), tree)
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    t0 = time.perf_counter()
    corpus = load_corpus(mixed_corpus(n))
    t_load = time.perf_counter() - t0
    embedder = load_embedder(backend, cache_dir=ROOT / "models" / "cache")
    kwargs = {} if runs is None else {"runs": runs}
    if scorer is not None:
        from stakeholder_nlp.sentiment import load_scorer

        kwargs["sentiment"] = load_scorer(scorer, embedder)

    def on_stage(s):
        now = cpu()
        cpu_s[state["stage"]] = cpu_s.get(state["stage"], 0.0) + now - state["cpu"]
        state["stage"], state["cpu"] = s, now

    with tempfile.TemporaryDirectory() as tmp:
        with EmbeddingCache(Path(tmp) / "cache") as cache:
            t1 = time.perf_counter()
            result = analyze(corpus, embedder, cache=cache, on_stage=on_stage, **kwargs)
            t_analyze = time.perf_counter() - t1
        on_stage("report")
        t2 = time.perf_counter()
        write_report(result, keep or Path(tmp) / "out", force=True)
        t_report = time.perf_counter() - t2
    on_stage("done")
    stop.set()
    timings = dict(result.timings)
    timings.update(load=t_load, report=t_report)
    payload = {"n_quotes": len(corpus.quotes), "wall_s": time.perf_counter() - t0, "analyze_s": t_analyze,
               "stage_s": {k: round(v, 2) for k, v in timings.items()},
               "stage_cpu_s": {k: round(v, 2) for k, v in cpu_s.items()},
               "stage_peak_rss_mb": {k: round(v, 1) for k, v in peaks.items() if k != "done"},
               "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
               "peak_rss_mb": round(max(peaks.values()), 1), "config": result.config,
               "model_id": result.model_id, "backend": backend, "sentiment_scorer": scorer or "default", "embedding_backend": type(embedder).__name__,
               "cpu_flags": sorted(f for f in _cpu_flags() if f.startswith(("avx", "amx"))),
               "n_themes": int(len(result.themes.themes)), "version": stakeholder_nlp.__version__}
    out_json.write_text(json.dumps(payload, indent=2, default=str))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--runs", type=int, default=None, help="stability runs (default: analyze's default)")
    ap.add_argument("--label", default="after")
    ap.add_argument("--backend", default="fast", help="embedding backend (fast, static, reference)")
    ap.add_argument("--sentiment-scorer", default=None, help="a scorer by name (default: analyze's choice)")
    ap.add_argument("--keep-out", type=Path, default=None,
                    help="write the largest size's report here (kept, to be opened) instead of a temporary folder")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, args.runs, args.child_out, args.backend, args.keep_out, args.sentiment_scorer)
        return
    results = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "r.json"
            cmd = [sys.executable, __file__, "--child", str(n), "--child-out", str(out), "--backend", args.backend]
            if args.sentiment_scorer is not None:
                cmd += ["--sentiment-scorer", args.sentiment_scorer]
            if args.keep_out is not None and n == max(args.sizes):
                cmd += ["--keep-out", str(args.keep_out)]
            if args.runs is not None:
                cmd += ["--runs", str(args.runs)]
            subprocess.run(cmd, check=True, cwd=ROOT)
            r = json.loads(out.read_text())
        results.append(r)
        stages = " ".join(f"{k} {v:.1f}s (cpu {r['stage_cpu_s'].get(k, float('nan')):.1f}s) "
                          f"{r['stage_peak_rss_mb'].get(k, 0) / 1024:.2f}GB" for k, v in r["stage_s"].items())
        print(f"n={r['n_quotes']}: {r['wall_s']:.1f}s, peak {r['peak_rss_mb'] / 1024:.2f} GB | {stages}", flush=True)
        # written after every size: a later size that fails or is stopped keeps the earlier ones
        path = write_result(f"scale_{args.label}", {"runs_arg": args.runs, "backend": args.backend,
                                                    "results": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
