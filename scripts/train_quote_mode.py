"""Train the quote-mode classifier: ``models/quote_mode/weights.json`` from ``data/quote_modes/sentences.csv``.

Multinomial logistic regression on ``[embedding * scale, features, rule vote]`` (features from the words,
``--features lexical``, the default; or from spaCy's parse, ``--features parse``) (see
:mod:`stakeholder_nlp.change.mode`). ``C`` and the embedding scale are chosen by macro-F1 on the ``dev``
split after fitting on ``train``; the shipped weights are then refitted on ``train + dev`` with the chosen
values. The ``test`` split is read only to check that the split column is the one :func:`split_of` assigns;
it is never fitted or scored here (``benchmarks/bench_mode.py`` scores it).

    python scripts/train_quote_mode.py            # writes models/quote_mode/weights.json
    python scripts/train_quote_mode.py --check    # rebuilds in memory, exits 1 if the file would differ

Deterministic: the same embedder (``load_embedder("fast")`` on the same CPU kind), spaCy model and data give
the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "quote_modes" / "sentences.csv"
OUT = ROOT / "models" / "quote_mode" / "weights.json"
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
SCALE_GRID = (1.0, 3.0, 10.0)
SPLITS = ("train", "dev", "test")


def split_of(sentence_id: str) -> str:
    """The fixed split of a sentence: 60 / 15 / 25 by a hash of its id (assigned before any model work)."""
    b = int(hashlib.sha256(sentence_id.encode()).hexdigest()[:8], 16) % 100
    return "train" if b < 60 else "dev" if b < 75 else "test"


def read_sentences(path: Path = DATA) -> list[dict]:
    """The labelled sentences, checked: known modes and splits, unique ids and texts, hash split."""
    from stakeholder_nlp.change.mode import MODES

    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    ids, texts = set(), set()
    for n, r in enumerate(rows, start=2):
        if r["mode"] not in MODES or r["split"] not in SPLITS:
            raise ValueError(f"{path} line {n}: mode {r['mode']!r} / split {r['split']!r}; expected one of "
                             f"{list(MODES)} / {list(SPLITS)}")
        if r["split"] != split_of(r["sentence_id"]):
            raise ValueError(f"{path} line {n}: split {r['split']!r} is not the hash split "
                             f"{split_of(r['sentence_id'])!r}")
        key = " ".join(r["text"].lower().split())
        if r["sentence_id"] in ids or key in texts:
            raise ValueError(f"{path} line {n}: duplicate id or text {r['sentence_id']}")
        ids.add(r["sentence_id"])
        texts.add(key)
    return rows


def featurise(texts: list[str], embedder, features: str, nlp=None) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and features (each text one unit, as the labels are per text)."""
    from stakeholder_nlp.change.mode import unit_features
    from stakeholder_nlp.embedding import embed_texts

    vectors = embed_texts(texts, embedder).vectors.astype(np.float64)
    return vectors, unit_features(texts, features=features, nlp=nlp)


def fit(vectors: np.ndarray, feats: np.ndarray, y: list[str], C: float, scale: float):
    from sklearn.linear_model import LogisticRegression

    from stakeholder_nlp.change.mode import MODES

    x = np.hstack([vectors * scale, feats])
    clf = LogisticRegression(C=C, max_iter=10000, tol=1e-8)
    clf.fit(x, [MODES.index(m) for m in y])
    return clf


def build(rows: list[dict], embedder, *, features: str = "lexical", nlp=None) -> dict:
    from sklearn.metrics import f1_score, log_loss

    from stakeholder_nlp.change.mode import (
        FEATURE_NAMES,
        FORMAT,
        MODES,
        RULE_FEATURE_NAMES,
        SPACY_MODEL,
        base_model,
    )

    part = {s: [r for r in rows if r["split"] == s] for s in ("train", "dev")}
    vec, feat, y = {}, {}, {}
    for s, rs in part.items():
        vec[s], feat[s] = featurise([r["text"] for r in rs], embedder, features, nlp)
        y[s] = [r["mode"] for r in rs]
    grid = []
    for scale in SCALE_GRID:
        for C in C_GRID:
            clf = fit(vec["train"], feat["train"], y["train"], C, scale)
            x_dev = np.hstack([vec["dev"] * scale, feat["dev"]])
            y_dev = [MODES.index(m) for m in y["dev"]]
            f1 = f1_score(y_dev, clf.predict(x_dev), average="macro")
            loss = log_loss(y_dev, clf.predict_proba(x_dev), labels=list(range(len(MODES))))
            grid.append({"C": C, "embedding_scale": scale, "dev_macro_f1": round(float(f1), 4),
                         "dev_log_loss": round(float(loss), 4)})
    # ties on macro-F1 (a 104-sentence dev split has few distinct values) go to the lower log-loss
    best = max(grid, key=lambda g: (g["dev_macro_f1"], -g["dev_log_loss"], -g["C"]))
    clf = fit(np.vstack([vec["train"], vec["dev"]]), np.vstack([feat["train"], feat["dev"]]),
              y["train"] + y["dev"], best["C"], best["embedding_scale"])
    import sklearn

    data_sha = hashlib.sha256(DATA.read_bytes()).hexdigest()
    return {
        "format": FORMAT,
        "classes": list(MODES),
        "model_id": embedder.model_id,
        "base_model": base_model(embedder.model_id),
        "embedding_dim": int(vec["train"].shape[1]),
        "embedding_scale": best["embedding_scale"],
        "C": best["C"],
        "features": features,
        "feature_names": list(FEATURE_NAMES) + list(RULE_FEATURE_NAMES),
        "input": "[embedding * embedding_scale, features (lexical_features or span_features), rule one-hot]",
        "coef": [[round(float(v), 6) for v in row] for row in clf.coef_],
        "intercept": [round(float(v), 6) for v in clf.intercept_],
        "spacy_model": SPACY_MODEL if features == "parse" else None,
        "versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__,
                     **({"spacy": _spacy_version(), "spacy_model": nlp.meta.get("version")}
                        if features == "parse" else {})},
        "training_data": {"file": "data/quote_modes/sentences.csv", "sha256": data_sha,
                          "fitted_on": "train + dev", "n_train": len(part["train"]), "n_dev": len(part["dev"])},
        "selection": {"criterion": "dev macro-F1, then dev log-loss (fit on train)", "grid": grid, "chosen": best},
    }


def _spacy_version() -> str:
    import spacy

    return spacy.__version__


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true", help="rebuild and compare with --out; write nothing")
    ap.add_argument("--features", choices=("lexical", "parse"), default="lexical",
                    help="the non-embedding features: from the words (default, fast) or spaCy's parse")
    args = ap.parse_args(argv)
    from stakeholder_nlp.change.mode import load_nlp
    from stakeholder_nlp.embedding import load_embedder

    rows = read_sentences()
    nlp = load_nlp() if args.features == "parse" else None
    spec = build(rows, load_embedder("fast"), features=args.features, nlp=nlp)
    text = json.dumps(spec, indent=1) + "\n"
    if args.check:
        same = args.out.exists() and args.out.read_text() == text
        print(f"{args.out}: {'identical' if same else 'DIFFERS'}")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}: C={spec['C']} scale={spec['embedding_scale']} "
          f"dev macro-F1 {spec['selection']['chosen']['dev_macro_f1']} (model_id {spec['model_id']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
