"""Fit the sentiment model's per-class logit bias (a prior correction) on validation parts only, and write
it into the model's config.json (``logit_bias``), where :class:`FineTunedScorer` reads it.

    nice -n 15 .venv/bin/python scripts/train_sentiment_bias.py                 # fit, report, write
    nice -n 15 .venv/bin/python scripts/train_sentiment_bias.py --dry-run       # fit and report only

The network was trained with class-balanced weights on a mix of registers, so its class priors need not
suit any one of them. Three numbers added to every sentence's logits (neutral's fixed at 0) move the
decision boundaries without touching the network. They are chosen by grid search to maximise the mean
macro-F1 (quote labels as the scorer makes them: sentence probabilities averaged, one vote per sentence)
over three validation parts, none of them a benchmark test set:

* NHS FFT ``val`` part of the split by unique text (seed 13; ``test`` is the benchmark's);
* GoEmotions ``dev`` (Google's split; ``test`` is the benchmark's);
* NewsMTSC ``devtest_mt`` sentences whose targets all carry the same label (the benchmark scores the
  single-target ``devtest_rw`` rows; NewsMTSC has no single-target dev split).

PhraseBank and EmoBank are never used. Writes the fit (grid optimum, validation before / after) to
``benchmarks/results/sentiment_bias.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "benchmarks"))


def newsmtsc_unanimous(split: str = "devtest_mt") -> pd.DataFrame:
    """Sentences of ``split`` whose targets all carry one label (their tone towards every person agrees)."""
    raw = pd.read_csv(DATA / "newsmtsc" / "newsmtsc_targets.csv")
    raw = raw[raw["split"] == split]
    labels = raw.groupby("sentence")["sentiment"].agg(lambda s: s.iloc[0] if s.nunique() == 1 else None).dropna()
    return pd.DataFrame({"text": labels.index.astype(str), "label3": labels.to_numpy()}).reset_index(drop=True)


def validation_parts() -> dict[str, pd.DataFrame]:
    from stakeholder_nlp.sentiment.data import load_goemotions, load_nhs_fft, split_by_text

    nhs = load_nhs_fft(DATA / "nhs_fft_phase1" / "text_data.csv")
    return {"nhs_fft_val": nhs[split_by_text(nhs) == "val"].reset_index(drop=True),
            "goemotions_dev": load_goemotions(DATA / "goemotions" / "goemotions_sentiment.csv", "dev"),
            "newsmtsc_devtest_mt_unanimous": newsmtsc_unanimous()}


class SentencePieces:
    """Each quote's sentences (as the scorer cuts them) and their raw logits, so that a candidate bias is
    scored without running the network again."""

    def __init__(self, scorer, texts: list[str]) -> None:
        from stakeholder_nlp.sentiment.finetuned import sentence_pieces

        pieces, owner_a = sentence_pieces(texts)
        self.n = len(texts)
        self.logits = scorer.piece_outputs(pieces)[0].astype(np.float64)
        self.starts = np.flatnonzero(np.r_[True, owner_a[1:] != owner_a[:-1]])  # pieces are in quote order
        self.counts = np.bincount(owner_a, minlength=self.n)[:, None]

    def labels(self, bias: np.ndarray) -> np.ndarray:
        z = self.logits + bias
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return (np.add.reduceat(p, self.starts, axis=0) / self.counts).argmax(axis=1)


def macro_f1(gold: np.ndarray, pred: np.ndarray) -> float:
    """Macro-F1 over the three classes (a class absent from both gold and pred scores 0, as sklearn's
    ``f1_score(..., labels=[0, 1, 2], average="macro", zero_division=0)``)."""
    cm = np.bincount(3 * gold + pred, minlength=9).reshape(3, 3)
    tp = np.diag(cm).astype(float)
    denom = cm.sum(0) + cm.sum(1)
    return float(np.mean(np.divide(2 * tp, denom, out=np.zeros(3), where=denom > 0)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "models" / "sentiment_minilm"))
    ap.add_argument("--grid", type=float, nargs=3, default=(-1.5, 1.5, 0.05), metavar=("LO", "HI", "STEP"))
    ap.add_argument("--dry-run", action="store_true", help="report the fit, write nothing")
    ap.add_argument("--result-name", default="sentiment_bias", help="benchmarks/results/NAME.json")
    args = ap.parse_args()

    from common import write_result
    from stakeholder_nlp.sentiment import FineTunedScorer
    from stakeholder_nlp.sentiment.finetuned import CLASSES

    scorer = FineTunedScorer(args.model, logit_bias=(0.0, 0.0, 0.0))
    parts = validation_parts()
    index = {c: i for i, c in enumerate(CLASSES)}
    data = {name: (SentencePieces(scorer, df["text"].tolist()), df["label3"].map(index).to_numpy())
            for name, df in parts.items()}
    lo, hi, step = args.grid
    grid = np.round(np.arange(lo, hi + step / 2, step), 6)
    best, best_score = np.zeros(3), -1.0
    zero = {name: macro_f1(y, pc.labels(np.zeros(3))) for name, (pc, y) in data.items()}
    for bn in grid:
        for bp in grid:
            b = np.array([bn, 0.0, bp])
            score = float(np.mean([macro_f1(y, pc.labels(b)) for pc, y in data.values()]))
            # ties: the smaller correction
            if score > best_score + 1e-12 or (abs(score - best_score) <= 1e-12 and np.abs(b).sum() < np.abs(best).sum()):
                best, best_score = b, score
    after = {name: macro_f1(y, pc.labels(best)) for name, (pc, y) in data.items()}
    print("validation macro-F1 without bias:", {k: round(v, 3) for k, v in zero.items()},
          f"mean {np.mean(list(zero.values())):.3f}")
    print(f"bias {best.tolist()} (negative, neutral, positive):", {k: round(v, 3) for k, v in after.items()},
          f"mean {np.mean(list(after.values())):.3f}")
    result = {"model": str(args.model), "logit_bias": best.tolist(), "grid": list(args.grid),
              "validation_n": {k: len(v) for k, v in parts.items()},
              "validation_macro_f1_without": zero, "validation_macro_f1_with": after,
              "objective": "mean macro-F1 over the three validation parts, quote labels as the scorer makes them"}
    if args.dry_run:
        return
    cfg_path = Path(args.model) / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["logit_bias"] = [round(float(x), 4) for x in best]
    cfg["logit_bias_fitted_on"] = ("NHS FFT val, GoEmotions dev, NewsMTSC devtest_mt (unanimous sentences): "
                                   "scripts/train_sentiment_bias.py, grid search for the mean macro-F1")
    cfg_path.write_text(json.dumps(cfg, indent=2) + "\n")
    print(f"wrote {cfg_path} and {write_result(args.result_name, result)}")


if __name__ == "__main__":
    main()
