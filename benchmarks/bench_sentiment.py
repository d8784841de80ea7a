"""Sentiment scorers on held-out human labels, side by side: VADER (baseline) vs the embedding head.

    .venv/bin/python benchmarks/bench_sentiment.py

NHS FFT: the test part of the split the head was trained without (by unique text, seed 13), 3 classes
(criticality <= -2 / -1..1 / >= 2) and Spearman correlation with the -5..5 criticality. Financial
PhraseBank Sentences_AllAgree (evaluation only): 3 classes. Speed (texts/s) beside quality.
Writes benchmarks/results/sentiment.json.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, require, write_result  # noqa: E402


def main() -> None:
    from scipy.stats import spearmanr
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    from stakeholder_nlp.embedding import load_embedder
    from stakeholder_nlp.sentiment import EmbeddingHeadScorer, VaderScorer
    from stakeholder_nlp.sentiment.data import load_nhs_fft, load_phrasebank, split_by_text

    nhs = load_nhs_fft(require(DATA / "nhs_fft_phase1" / "text_data.csv"))
    test = nhs[split_by_text(nhs) == "test"].reset_index(drop=True)
    fpb = load_phrasebank(require(DATA / "financial_phrasebank" / "fpb_allagree.csv"))
    embedder = load_embedder("fast")
    scorers = {"vader": VaderScorer(), "embedding-head (default)": EmbeddingHeadScorer(embedder)}
    results = {}
    for name, scorer in scorers.items():
        scorer.label(["warm-up sentence"])
        entry = {}
        for dname, df in (("nhs_fft_test", test), ("financial_phrasebank_allagree", fpb)):
            texts = df["text"].tolist()
            t = time.perf_counter()
            labels = scorer.label(texts)
            secs = time.perf_counter() - t
            entry[dname] = {
                "n": len(texts), "macro_f1": f1_score(df["label3"], labels, average="macro"),
                "accuracy": accuracy_score(df["label3"], labels), "texts_per_s": len(texts) / secs,
                "confusion(rows=true neg,neu,pos)": confusion_matrix(
                    df["label3"], labels, labels=["negative", "neutral", "positive"]).tolist()}
            if dname == "nhs_fft_test":
                entry[dname]["spearman_criticality"] = float(spearmanr(scorer.score(texts), df["criticality"]).statistic)
            e = entry[dname]
            print(f"{name:26s} {dname:30s} macro-F1 {e['macro_f1']:.3f} acc {e['accuracy']:.3f} "
                  + (f"spearman {e['spearman_criticality']:.3f} " if "spearman_criticality" in e else "")
                  + f"{e['texts_per_s']:.0f} texts/s")
        results[name] = entry
    gain = {d: results["embedding-head (default)"][d]["macro_f1"] - results["vader"][d]["macro_f1"]
            for d in ("nhs_fft_test", "financial_phrasebank_allagree")}
    print("macro-F1 gain of the default over VADER (points):", {k: round(100 * v, 1) for k, v in gain.items()})
    print(f"wrote {write_result('sentiment', {'embedder': embedder.model_id, 'results': results, 'gain': gain})}")


if __name__ == "__main__":
    main()
