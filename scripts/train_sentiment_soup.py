"""Average the weights of fine-tuned sentiment checkpoints ("model soup") and score each candidate on the
validation parts only, quote labels as the scorer makes them (sentence probabilities averaged, one vote per
sentence), fp32. Optionally write the chosen average as a checkpoint that ``train_sentiment.py
--export-only`` turns into the shipped int8 graph.

    nice -n 15 .venv/bin/python scripts/train_sentiment_soup.py \\
        --candidate stage2=models/cache/sentiment_train2/best.pt \\
        --candidate soup=models/cache/sentiment_train2/best.pt,models/cache/sentiment_train5/step300.pt
    nice -n 15 .venv/bin/python scripts/train_sentiment_soup.py --candidate soup=A,B --write DIR/best.pt

Checkpoints must share one architecture (the same ``--layers``); all come from the same starting weights
(stage 1 -> stage 2 -> ...), which is what makes a plain average of their weights meaningful. Validation
parts (as in ``train_sentiment_bias.py``): NHS FFT ``val``, GoEmotions ``dev`` and NewsMTSC ``devtest_mt``
sentences whose targets agree. PhraseBank and EmoBank are never read. Writes
``benchmarks/results/sentiment_soup.json`` (each candidate's per-part macro-F1 and confusion matrices).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def average_state(paths: list[str]) -> dict:
    """The element-wise mean of the checkpoints' ``model`` state dicts (integer buffers from the first)."""
    import torch

    states = [torch.load(p, weights_only=False)["model"] for p in paths]
    out = {}
    for k, v in states[0].items():
        out[k] = torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype) if v.is_floating_point() else v
    return out


def piece_probs(model, tok, texts: list[str], max_length: int,
                unsplit: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Quote-level probabilities as the scorer combines them (mean of the sentences' probabilities), and
    (``unsplit``) the whole-text logits (no splitting)."""
    from train_sentiment import predict

    from stakeholder_nlp.sentiment.finetuned import sentence_pieces

    pieces, owner = sentence_pieces(texts)
    z = predict(model, tok, pieces, max_length).astype(np.float64)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    quote = np.add.reduceat(p, starts, axis=0) / np.bincount(owner, minlength=len(texts))[:, None]
    whole = predict(model, tok, texts, max_length) if unsplit else None
    return quote, whole


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidate", action="append", required=True, metavar="NAME=CKPT[,CKPT...]",
                    help="a name and the checkpoints whose weights are averaged (one: that checkpoint as is)")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--unsplit", action="store_true", help="also score each text whole (no splitting)")
    ap.add_argument("--write", default=None, help="save the (single) candidate's averaged weights here")
    ap.add_argument("--result-name", default="sentiment_soup")
    args = ap.parse_args()

    import torch
    from tokenizers import Tokenizer
    from train_sentiment import CLASSES, build_model
    from train_sentiment_bias import macro_f1, validation_parts

    from common import write_result
    from stakeholder_nlp.embedding.base import default_model_path

    torch.set_num_threads(args.threads)
    base = default_model_path()
    tok = Tokenizer.from_file(str(base / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    parts = validation_parts()
    index = {c: i for i, c in enumerate(CLASSES)}
    gold = {name: df["label3"].map(index).to_numpy() for name, df in parts.items()}
    model = build_model(base, args.layers)
    rows = []
    for spec in args.candidate:
        name, _, paths = spec.partition("=")
        ckpts = paths.split(",")
        state = average_state(ckpts)
        model.load_state_dict(state)
        t = time.perf_counter()
        row = {"name": name, "checkpoints": ckpts}
        for part, df in parts.items():
            quote, whole = piece_probs(model, tok, df["text"].tolist(), args.max_length, args.unsplit)
            pred = quote.argmax(1)
            row[part] = {"n": len(df), "macro_f1": macro_f1(gold[part], pred),
                         "confusion": np.bincount(3 * gold[part] + pred, minlength=9).reshape(3, 3).tolist()}
            if whole is not None:
                row[part]["macro_f1_unsplit"] = macro_f1(gold[part], whole.argmax(1))
        row["mean_macro_f1"] = float(np.mean([row[p]["macro_f1"] for p in parts]))
        rows.append(row)
        print(f"{name}: " + ", ".join(f"{p} {row[p]['macro_f1']:.3f}" for p in parts) + f"; mean {row['mean_macro_f1']:.3f} "
              f"[{time.perf_counter() - t:.0f} s]", flush=True)
        if args.write:
            torch.save({"model": state, "step": 0, "soup_of": ckpts}, args.write)
            print(f"wrote {args.write}", flush=True)
    prior = ROOT / "benchmarks" / "results" / f"{args.result_name}.json"
    old = json.loads(prior.read_text()).get("rows", []) if prior.exists() else []
    keep = [r for r in old if r["name"] not in {r2["name"] for r2 in rows}]
    print(f"wrote {write_result(args.result_name, {'rows': keep + rows, 'note': 'validation parts only, fp32; quote labels = mean of sentence probabilities'})}")


if __name__ == "__main__":
    main()
