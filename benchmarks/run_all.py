"""Run every benchmark in turn (one at a time, so timings do not compete for the 2 cores)."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("bench_embedding.py", "bench_themes.py", "bench_sentiment.py", "bench_stability.py", "bench_codebook.py",
              "bench_inference.py", "bench_small_n.py", "bench_scale.py", "bench_canonical.py", "fuzz_loaders.py")
for name in BENCHMARKS:
    print(f"=== {name}", flush=True)
    subprocess.run([sys.executable, str(HERE / name)], check=True)
