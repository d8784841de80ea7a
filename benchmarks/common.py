"""Shared benchmark plumbing: machine facts, a peak-RSS sampler, medians, and the JSON result writer."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import threading
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT.parent / "shared" / "data"


def require(path: Path) -> Path:
    if not path.exists():
        raise SystemExit(f"benchmark data {path} is missing: this benchmark reads ../shared/data beside the checkout")
    return path


def machine() -> dict:
    versions = {}
    for pkg in ("torch", "sentence-transformers", "transformers", "onnxruntime", "openvino", "nncf", "bertopic",
                "umap-learn", "hdbscan", "scikit-learn", "numpy", "pandas", "statsmodels", "scipy", "vaderSentiment"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = None
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    flags = []
    try:
        line = next(line for line in open("/proc/cpuinfo") if line.startswith("flags"))
        have = set(line.split(":", 1)[1].split())
        flags = sorted(f for f in have if f in {"avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
                                                "avx_vnni", "amx_bf16", "amx_int8", "amx_tile"})
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cpu_flags": flags, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "git_commit": commit, "versions": versions,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S")}


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@contextmanager
def peak_rss():
    """Samples this process's RSS every 20 ms; yields a dict whose 'peak_mb' is set on exit."""
    out = {"peak_mb": rss_mb()}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            out["peak_mb"] = max(out["peak_mb"], rss_mb())
            time.sleep(0.02)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        yield out
    finally:
        stop.set()
        t.join()
        out["peak_mb"] = round(max(out["peak_mb"], rss_mb()), 1)


def timed(fn, repeats: int = 3):
    """Median wall time of ``repeats`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, result


def write_result(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), **payload}
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    return path
