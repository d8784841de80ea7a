"""Human-labelled sentiment data from ../shared/data (read in place, never copied into the project)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import CorpusFormatError


def criticality_class(c: float) -> str:
    """3 classes from the -5..5 criticality: <= -2 negative, -1..1 neutral (mild), >= 2 positive."""
    return "negative" if c <= -2 else "positive" if c >= 2 else "neutral"


def load_nhs_fft(path: str | Path) -> pd.DataFrame:
    """NHS FFT comments with an integer criticality in -5..5. Left out, and counted in
    ``df.attrs['dropped']``: rows with junk criticality ("-o", "SS", -9) and Trust B's rows scored 0.
    Trust B scored 2,563 comments 0, nearly all plainly positive ("My stay has been very good"), while
    Trusts A and C used 0 three times in 8,000 rows: Trust B's 0 means "not scored", not "neutral".
    Columns: ``text``, ``criticality``, ``label3``, ``category``, ``organization``."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p} not found: the NHS FFT data lives in ../shared/data/nhs_fft_phase1")
    raw = pd.read_csv(p)
    for col in ("feedback", "criticality"):
        if col not in raw.columns:
            raise CorpusFormatError(f"missing column {col!r}", path=str(p), field=col)
    crit = pd.to_numeric(raw["criticality"], errors="coerce")
    unscored = (raw.get("organization") == "Trust B") & (crit == 0)
    ok = crit.between(-5, 5) & raw["feedback"].fillna("").str.strip().ne("") & ~unscored
    df = pd.DataFrame({"text": raw.loc[ok, "feedback"].astype(str), "criticality": crit[ok].astype(int),
                       "category": raw.loc[ok, "label"],
                       "organization": raw.loc[ok, "organization"]}).reset_index(drop=True)
    df["label3"] = df["criticality"].map(criticality_class)
    df.attrs["dropped"] = int((~ok).sum())
    return df


def split_by_text(df: pd.DataFrame, *, seed: int = 13, fractions=(0.7, 0.15, 0.15)) -> pd.Series:
    """'train'/'val'/'test' per row; identical texts always fall in the same part (no leakage)."""
    texts = df["text"].str.strip().str.lower()
    unique = texts.drop_duplicates().to_numpy()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(unique))
    n_train = int(fractions[0] * len(unique))
    n_val = int(fractions[1] * len(unique))
    part = {}
    for rank, i in enumerate(order):
        part[unique[i]] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return texts.map(part)


def load_phrasebank(path: str | Path) -> pd.DataFrame:
    """Financial PhraseBank (evaluation only: CC BY-NC-SA). Columns ``text``, ``label3``."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p} not found: ../shared/data/financial_phrasebank/fpb_allagree.csv")
    raw = pd.read_csv(p)
    return pd.DataFrame({"text": raw["sentence"].astype(str), "label3": raw["label"].astype(str)})


def load_phrasebank_50agree(path: str | Path) -> pd.DataFrame:
    """Financial PhraseBank Sentences_50Agree (evaluation only). Columns ``text``, ``label3``."""
    return load_phrasebank(path)


def _require(path: str | Path, where: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p} not found: expected {where} (../shared/data beside the checkout)")
    return p


def load_goemotions(path: str | Path, split: str | None = None) -> pd.DataFrame:
    """GoEmotions (CC BY 4.0) as 3 classes: Google's own train/dev/test split, rows whose emotions map to
    one sentiment group (positive / negative / neutral) only; ``ambiguous`` and ``mixed`` rows left out.
    Columns ``text``, ``label3``, ``split``."""
    p = _require(path, "goemotions/goemotions_sentiment.csv")
    raw = pd.read_csv(p)
    for col in ("split", "text", "sentiment"):
        if col not in raw.columns:
            raise CorpusFormatError(f"missing column {col!r}", path=str(p), field=col)
    keep = raw["sentiment"].isin(["negative", "neutral", "positive"])
    if split is not None:
        keep &= raw["split"] == split
    return pd.DataFrame({"text": raw.loc[keep, "text"].astype(str), "label3": raw.loc[keep, "sentiment"],
                         "split": raw.loc[keep, "split"]}).reset_index(drop=True)


def load_newsmtsc(path: str | Path, split: str | None = None) -> pd.DataFrame:
    """NewsMTSC (MIT; never shipped as text) as whole-sentence labels: single-target rows only (the label is
    the sentence's sentiment towards its one person, in practice its evaluative tone). Splits ``train``,
    ``devtest_mt``, ``devtest_rw`` (the test set). Columns ``text``, ``label3``, ``split``."""
    p = _require(path, "newsmtsc/newsmtsc_targets.csv")
    raw = pd.read_csv(p)
    keep = raw["n_targets_in_sentence"] == 1
    if split is not None:
        keep &= raw["split"] == split
    df = pd.DataFrame({"text": raw.loc[keep, "sentence"].astype(str), "label3": raw.loc[keep, "sentiment"],
                       "split": raw.loc[keep, "split"]})
    return df.drop_duplicates("text").reset_index(drop=True)


def load_emobank(path: str | Path, split: str | None = None, *, low: float = 2.5,
                 high: float = 3.5) -> pd.DataFrame:
    """EmoBank (CC BY-SA 4.0: evaluation only) as 3 classes by valence: <= ``low`` negative, >= ``high``
    positive, otherwise neutral. Columns ``text``, ``label3``, ``split``, ``V``, ``genre``."""
    p = _require(path, "emobank/emobank_sentiment.csv")
    raw = pd.read_csv(p)
    if split is not None:
        raw = raw[raw["split"] == split]
    v = raw["V"].astype(float)
    label = np.where(v <= low, "negative", np.where(v >= high, "positive", "neutral"))
    return pd.DataFrame({"text": raw["text"].astype(str).to_numpy(), "label3": label,
                         "split": raw["split"].to_numpy(), "V": v.to_numpy(),
                         "genre": raw["genre"].to_numpy()})
