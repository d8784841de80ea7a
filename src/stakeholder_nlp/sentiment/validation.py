"""Check the sentiment scorer against a person's reading of the researcher's own quotes, and adapt it.

The round trip:

1. :func:`sample_for_labelling` draws quotes stratified by wave × theme (proportional, every stratum
   that can get one gets one) into a table with an empty ``label`` column; :func:`write_label_sheet`
   writes it as .xlsx (or .csv) with an instructions sheet. Model scores are not shown: no anchoring.
2. A person fills ``label`` with negative / neutral / positive (also accepted: -1/0/1, neg/neu/pos).
3. :func:`read_labels` reads it back (errors name file, row and field); :func:`validate_sentiment` reports
   agreement on those quotes (:data:`VALIDATION_COLUMNS`): macro-F1, weighted kappa (linear weights on
   the order negative < neutral < positive) and accuracy, each with a cluster-bootstrap interval
   (speakers resampled), for the default scorer and, with ``adapt=True``, for the scorer adapted to the
   labels, measured by cross-validation: each quote is predicted by a head fitted without it (folds
   grouped by speaker, so a speaker's other quotes never leak into their own prediction).

Adaptation (:class:`AdaptedHead`) re-fits the head in logit space: new logits = default logits +
``V · standardised features + c``, with an L2 penalty pulling ``V``, ``c`` to zero (the default scorer);
the penalty is chosen by inner cross-validation (log-loss) on the fitting quotes only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import CorpusFormatError, NotFittedError
from .finetuned import CLASSES

#: columns of the sheet a person labels
LABEL_SHEET_COLUMNS = ("quote_id", "wave", "theme", "speaker", "text", "label", "note")
#: one row per scorer checked
VALIDATION_COLUMNS = ("scorer", "method", "n", "macro_f1", "macro_f1_lo", "macro_f1_hi", "weighted_kappa",
                      "weighted_kappa_lo", "weighted_kappa_hi", "accuracy", "accuracy_lo", "accuracy_hi",
                      "n_negative", "n_neutral", "n_positive")
_ALIASES = {"negative": "negative", "neg": "negative", "-1": "negative", "-": "negative", "n": "negative",
            "neutral": "neutral", "neu": "neutral", "0": "neutral", "0.0": "neutral", "-1.0": "negative",
            "positive": "positive", "pos": "positive", "1": "positive", "+1": "positive", "+": "positive",
            "p": "positive", "1.0": "positive"}
INSTRUCTIONS = (
    "Read each quote as a careful reader would and write its overall tone in the 'label' column: negative, "
    "neutral or positive (-1/0/1 also accepted). Hedged hope ('it could work if...') counts as positive; "
    "frustration, loss or criticism as negative; description without evaluation as neutral. A quote that "
    "turns from one to the other: label the tone that dominates. Leave a row blank to skip it. Do not "
    "change quote_id. Then run: stakeholder-nlp analyze INPUT --out DIR --sentiment-labels THIS_FILE")


# -- the labelling sheet ----------------------------------------------------------------------------------
def sample_for_labelling(quotes: pd.DataFrame, n: int = 40, *, theme_col: str = "theme",
                         seed: int = 0) -> pd.DataFrame:
    """``n`` quotes stratified by wave × ``theme_col`` (largest-remainder proportional allocation, at
    least one per stratum while ``n`` allows, smallest strata first to keep rare cells). ``quotes``
    needs ``quote_id``, ``wave``, ``speaker``, ``text`` and ``theme_col``. Returns
    :data:`LABEL_SHEET_COLUMNS`, ``label`` and ``note`` empty, ordered by wave and theme."""
    missing = [c for c in ("quote_id", "wave", "speaker", "text", theme_col) if c not in quotes.columns]
    if missing:
        raise ValueError(f"quotes lack column(s) {missing}; have {list(quotes.columns)}")
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    df = quotes.reset_index(drop=True)
    n = min(n, len(df))
    strata = df.groupby(["wave", theme_col], sort=True).indices
    keys = sorted(strata, key=lambda k: (len(strata[k]), str(k)))
    alloc = {k: 0 for k in keys}
    for k in keys[:n]:
        alloc[k] = 1
    left = n - sum(alloc.values())
    if left > 0:
        rest = {k: len(strata[k]) - alloc[k] for k in keys}
        total = sum(rest.values())
        share = {k: left * rest[k] / total for k in keys}
        for k in keys:
            alloc[k] += min(int(np.floor(share[k])), rest[k])
        remainder = n - sum(alloc.values())
        for k in sorted(keys, key=lambda k: (-(share[k] - np.floor(share[k])), str(k))):
            if remainder <= 0:
                break
            if alloc[k] < len(strata[k]):
                alloc[k] += 1
                remainder -= 1
    rng = np.random.default_rng(seed)
    picked = [i for k in keys for i in rng.choice(strata[k], size=alloc[k], replace=False).tolist()]
    out = df.loc[sorted(picked), ["quote_id", "wave", theme_col, "speaker", "text"]].rename(
        columns={theme_col: "theme"})
    out = out.sort_values(["wave", "theme", "quote_id"], kind="stable").reset_index(drop=True)
    out["label"] = ""
    out["note"] = ""
    return out[list(LABEL_SHEET_COLUMNS)]


def write_label_sheet(sheet: pd.DataFrame, path: str | Path) -> Path:
    """.xlsx (a 'quotes' sheet and an 'instructions' sheet) or .csv."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix.lower() == ".csv":
        sheet.to_csv(p, index=False)
    elif p.suffix.lower() == ".xlsx":
        with pd.ExcelWriter(p, engine="openpyxl") as xl:
            sheet.to_excel(xl, sheet_name="quotes", index=False)
            pd.DataFrame({"instructions": [INSTRUCTIONS]}).to_excel(xl, sheet_name="instructions", index=False)
    else:
        raise ValueError(f"{p}: the labelling sheet is written as .xlsx or .csv, not {p.suffix!r}")
    return p


def read_labels(path: str | Path) -> pd.DataFrame:
    """The labelled sheet back: columns ``quote_id`` (str), ``label`` (one of negative/neutral/positive);
    blank labels are left out (counted in ``df.attrs['n_blank']``). Bad values raise
    :class:`~stakeholder_nlp.errors.CorpusFormatError` naming the file, row (as shown in a spreadsheet,
    header = row 1) and field."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"label file {p} does not exist; make one with stakeholder-nlp sample-to-label")
    if p.suffix.lower() == ".xlsx":
        raw = pd.read_excel(p, sheet_name=0, dtype=str)
    elif p.suffix.lower() == ".csv":
        raw = pd.read_csv(p, dtype=str, keep_default_na=False)
    else:
        raise CorpusFormatError(f"expected a .xlsx or .csv label file, got {p.suffix!r}", path=str(p))
    for col in ("quote_id", "label"):
        if col not in raw.columns:
            raise CorpusFormatError(f"missing column {col!r}; the sheet has {list(raw.columns)}", path=str(p),
                                    field=col)
    rows, blank, seen = [], 0, {}
    for i, (qid, lab) in enumerate(zip(raw["quote_id"], raw["label"], strict=True)):
        qid = "" if pd.isna(qid) else str(qid).strip()
        lab = "" if pd.isna(lab) else str(lab).strip().lower()
        if not lab:
            blank += 1
            continue
        if not qid:
            raise CorpusFormatError("labelled row has no quote_id", path=str(p), row=i + 2, field="quote_id")
        if lab not in _ALIASES:
            raise CorpusFormatError(f"label {lab!r} is not one of negative / neutral / positive (or -1 / 0 / 1)",
                                    path=str(p), row=i + 2, field="label")
        if qid in seen:
            raise CorpusFormatError(f"quote_id {qid!r} labelled twice (first on row {seen[qid]})", path=str(p),
                                    row=i + 2, field="quote_id")
        seen[qid] = i + 2
        rows.append((qid, _ALIASES[lab]))
    out = pd.DataFrame(rows, columns=["quote_id", "label"])
    out.attrs["n_blank"] = blank
    out.attrs["path"] = str(p)
    return out


# -- agreement --------------------------------------------------------------------------------------------
def _metrics(gold: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    """macro-F1 over the classes present in gold or pred, linear-weighted kappa, accuracy (ints 0..2)."""
    f1s = []
    for c in np.union1d(gold, pred):
        tp = np.sum((pred == c) & (gold == c))
        denom = np.sum(pred == c) + np.sum(gold == c)
        f1s.append(2 * tp / denom if denom else 0.0)
    conf = np.zeros((3, 3))
    np.add.at(conf, (gold, pred), 1)
    n = conf.sum()
    w = np.abs(np.subtract.outer(np.arange(3), np.arange(3))) / 2.0
    expected = np.outer(conf.sum(1), conf.sum(0)) / n
    denom = (w * expected).sum()
    kappa = 1.0 - (w * conf).sum() / denom if denom > 0 else np.nan
    return float(np.mean(f1s)), float(kappa), float(np.mean(gold == pred))


def agreement(gold: Sequence[str], pred: Sequence[str], *, groups: Sequence | None = None, n_boot: int = 2000,
              seed: int = 0, level: float = 0.95) -> dict:
    """Macro-F1, weighted kappa and accuracy with percentile bootstrap intervals; with ``groups``
    (speakers) whole groups are resampled, since one speaker's quotes are not independent."""
    idx = {c: i for i, c in enumerate(CLASSES)}
    g = np.array([idx[x] for x in gold])
    p = np.array([idx[x] for x in pred])
    if len(g) == 0:
        raise ValueError("no labelled quotes to measure agreement on")
    point = _metrics(g, p)
    grp = np.asarray(list(groups), dtype=object) if groups is not None else np.arange(len(g)).astype(object)
    uniq, inv = np.unique(grp.astype(str), return_inverse=True)
    members = [np.flatnonzero(inv == k) for k in range(len(uniq))]
    rng = np.random.default_rng(seed)
    reps = np.empty((n_boot, 3))
    for b in range(n_boot):
        pick = np.concatenate([members[k] for k in rng.integers(0, len(uniq), len(uniq))])
        reps[b] = _metrics(g[pick], p[pick])
    a = (1 - level) / 2
    lo, hi = np.nanquantile(reps, a, axis=0), np.nanquantile(reps, 1 - a, axis=0)
    out = {"n": int(len(g))}
    for k, name in enumerate(("macro_f1", "weighted_kappa", "accuracy")):
        out[name], out[f"{name}_lo"], out[f"{name}_hi"] = point[k], float(lo[k]), float(hi[k])
    for c in CLASSES:
        out[f"n_{c}"] = int(np.sum(g == idx[c]))
    return out


# -- adaptation -------------------------------------------------------------------------------------------
def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class AdaptedHead:
    """Logit-space correction of the default head, fitted on a few labelled texts.

    ``fit(base_logits, features, y)``; ``predict_proba(base_logits, features)``. ``penalty=None`` picks
    the L2 penalty from ``penalties`` by inner stratified cross-validation (log-loss) on the fitting data.
    """

    def __init__(self, penalty: float | None = None, penalties: Sequence[float] = (0.5, 2.0, 8.0, 32.0),
                 inner_folds: int = 3, random_state: int = 0) -> None:
        self.penalty = penalty
        self.penalties = penalties
        self.inner_folds = inner_folds
        self.random_state = random_state

    @staticmethod
    def _fit_one(z0, x, y, lam):
        from scipy.optimize import minimize

        n, d = x.shape
        onehot = np.eye(3)[y]

        def loss(theta):
            v = theta[:3 * d].reshape(3, d)
            c = theta[3 * d:]
            p = _softmax(z0 + x @ v.T + c)
            ll = -np.sum(onehot * np.log(np.clip(p, 1e-12, None))) / n
            grad_z = (p - onehot) / n
            gv = grad_z.T @ x + 2 * lam * v / n
            gc = grad_z.sum(0) + 2 * lam * c / n
            return ll + lam * (np.sum(v * v) + np.sum(c * c)) / n, np.concatenate([gv.ravel(), gc])

        res = minimize(loss, np.zeros(3 * d + 3), jac=True, method="L-BFGS-B", options={"maxiter": 200, "gtol": 1e-4})
        return res.x[:3 * d].reshape(3, d), res.x[3 * d:]

    def fit(self, base_logits: np.ndarray, features: np.ndarray, y: Sequence[str]) -> AdaptedHead:
        idx = {c: i for i, c in enumerate(CLASSES)}
        yy = np.array([idx[v] for v in y])
        z0 = np.asarray(base_logits, np.float64)
        f = np.asarray(features, np.float64)
        self.mean_ = f.mean(0)
        self.scale_ = f.std(0) + 1e-6
        x = (f - self.mean_) / self.scale_
        lam = self.penalty
        if lam is None:
            lam = self._choose_penalty(z0, f, yy)
        self.penalty_ = float(lam)
        self.coef_, self.intercept_ = self._fit_one(z0, x, yy, self.penalty_)
        return self

    def _choose_penalty(self, z0, f, yy) -> float:
        from sklearn.model_selection import StratifiedKFold

        counts = np.bincount(yy, minlength=3)
        k = min(self.inner_folds, int(counts[counts > 0].min()))
        if k < 2:
            return float(max(self.penalties))
        folds = StratifiedKFold(k, shuffle=True, random_state=self.random_state).split(f, yy)
        folds = list(folds)
        best, best_loss = None, np.inf
        for lam in self.penalties:
            total = 0.0
            for tr, te in folds:
                m, s = f[tr].mean(0), f[tr].std(0) + 1e-6
                v, c = self._fit_one(z0[tr], (f[tr] - m) / s, yy[tr], lam)
                p = _softmax(z0[te] + ((f[te] - m) / s) @ v.T + c)
                total -= np.sum(np.log(np.clip(p[np.arange(len(te)), yy[te]], 1e-12, None)))
            if total < best_loss:
                best, best_loss = lam, total
        return float(best)

    def predict_proba(self, base_logits: np.ndarray, features: np.ndarray) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise NotFittedError("This AdaptedHead instance is not fitted yet. Call 'fit' with appropriate "
                                 "arguments before using this estimator.")
        x = (np.asarray(features, np.float64) - self.mean_) / self.scale_
        return _softmax(np.asarray(base_logits, np.float64) + x @ self.coef_.T + self.intercept_)

    __call__ = predict_proba


def quote_inputs(scorer, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Quote-level (log-probabilities, features): the means over each quote's sentences, one vote per
    sentence, as :meth:`FineTunedScorer.score_quotes` combines them (so the argmax of the log-probabilities
    is the scorer's label)."""
    from .finetuned import sentence_pieces

    pieces, owner_a = sentence_pieces(texts)
    logits, feats = scorer.piece_outputs(pieces)
    probs = scorer.softmax(logits)
    w = np.ones(len(pieces))  # one vote per sentence
    n = len(texts)
    p = np.zeros((n, 3))
    fe = np.zeros((n, feats.shape[1]))
    np.add.at(p, owner_a, probs * w[:, None])
    np.add.at(fe, owner_a, feats * w[:, None])
    ws = np.bincount(owner_a, weights=w, minlength=n)[:, None]
    return np.log(np.clip(p / ws, 1e-9, None)), fe / ws


def cross_validated_predictions(base_logits: np.ndarray, features: np.ndarray, y: Sequence[str], *,
                                groups: Sequence | None = None, folds: int = 5, seed: int = 0) -> list[str]:
    """Each text's label from an :class:`AdaptedHead` fitted on the other folds only (grouped by
    ``groups`` where given, stratified by label)."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = np.asarray(list(y))
    counts = pd.Series(y).value_counts()
    k = int(min(folds, counts.min())) if len(counts) > 1 else 0
    if k < 2:
        raise ValueError(f"cross-validated adaptation needs at least 2 labelled quotes in each class used; "
                         f"have {counts.to_dict()}")
    groups = None if groups is None else [str(g) for g in groups]  # a missing speaker (None) is a group too
    if groups is not None and len(set(groups)) >= k:
        splitter = StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(features, y, groups)
    else:
        splitter = StratifiedKFold(k, shuffle=True, random_state=seed).split(features, y)
    pred = np.empty(len(y), dtype=object)
    for tr, te in splitter:
        head = AdaptedHead(random_state=seed).fit(base_logits[tr], features[tr], y[tr])
        pred[te] = [CLASSES[j] for j in head.predict_proba(base_logits[te], features[te]).argmax(1)]
    return pred.tolist()


@dataclass(frozen=True, slots=True)
class SentimentValidation:
    """``table``: :data:`VALIDATION_COLUMNS`, one row per scorer; ``labelled``: the labelled quotes with
    ``quote_id``, ``label`` (human), ``default`` (and ``adapted_cv``) predictions; ``head``: the
    :class:`AdaptedHead` fitted on all labels (``None`` unless ``adapt``)."""

    table: pd.DataFrame
    labelled: pd.DataFrame
    head: AdaptedHead | None
    n_unmatched: int

    def sentence(self) -> str:
        r = self.table.iloc[0]
        s = (f"Sentiment was checked against {int(r['n'])} quotes labelled by a person: the default scorer "
             f"agrees with macro-F1 {r['macro_f1']:.2f} [{r['macro_f1_lo']:.2f}, {r['macro_f1_hi']:.2f}] and "
             f"weighted kappa {r['weighted_kappa']:.2f} [{r['weighted_kappa_lo']:.2f}, "
             f"{r['weighted_kappa_hi']:.2f}] (95% intervals, speakers resampled).")
        if len(self.table) > 1:
            a = self.table.iloc[1]
            s += (f" Adapted to these labels and measured by cross-validation (never on the quotes it was "
                  f"fitted to): macro-F1 {a['macro_f1']:.2f} [{a['macro_f1_lo']:.2f}, {a['macro_f1_hi']:.2f}], "
                  f"weighted kappa {a['weighted_kappa']:.2f}; the corpus was scored with the adapted scorer.")
        if int(r["n"]) < 30:
            s += " Fewer than 30 labelled quotes: the intervals are wide; label more for a firmer check."
        return s


def validate_sentiment(scorer, quotes: pd.DataFrame, labels: pd.DataFrame, *, adapt: bool = False,
                       n_boot: int = 2000, seed: int = 0, folds: int = 5) -> SentimentValidation:
    """Agreement of ``scorer`` with the person's labels on the quotes they labelled (matched by
    ``quote_id``); with ``adapt`` also the cross-validated agreement of the adapted scorer and the head
    fitted on all labels. ``quotes`` needs ``quote_id``, ``text``, ``speaker``."""
    q = quotes.assign(quote_id=quotes["quote_id"].astype(str))
    merged = labels.merge(q[["quote_id", "text", "speaker"]], on="quote_id", how="inner")
    n_unmatched = len(labels) - len(merged)
    if merged.empty:
        raise ValueError(f"none of the {len(labels)} labelled quote_ids is in the corpus; label a sheet made "
                         "from this corpus with stakeholder-nlp sample-to-label")
    texts, gold, spk = merged["text"].tolist(), merged["label"].tolist(), merged["speaker"].tolist()
    has_adapt = hasattr(scorer, "piece_outputs")
    if has_adapt:
        z, fe = quote_inputs(scorer, texts)
        default = [CLASSES[j] for j in z.argmax(1)]
    else:
        default = list(scorer.label(texts))
    rows = [{"scorer": getattr(scorer, "name", type(scorer).__name__), "method": "as shipped",
             **agreement(gold, default, groups=spk, n_boot=n_boot, seed=seed)}]
    merged = merged.assign(default=default)
    head = None
    if adapt:
        if not has_adapt:
            raise ValueError(f"scorer {getattr(scorer, 'name', scorer)!r} cannot be adapted (no features); use "
                             "the default scorer")
        cv = cross_validated_predictions(z, fe, gold, groups=spk, folds=folds, seed=seed)
        rows.append({"scorer": f"{rows[0]['scorer']}+adapted", "method": f"{folds}-fold cross-validation",
                     **agreement(gold, cv, groups=spk, n_boot=n_boot, seed=seed)})
        merged = merged.assign(adapted_cv=cv)
        head = AdaptedHead(random_state=seed).fit(z, fe, gold)
    table = pd.DataFrame(rows, columns=list(VALIDATION_COLUMNS))
    return SentimentValidation(table, merged.drop(columns=["text"]), head, n_unmatched)


def not_validated_notice(scorer_name: str) -> str:
    return (f"Sentiment was not validated on this corpus: the scorer ({scorer_name}) was trained on other "
            "text (Reddit comments, policy news, NHS patient comments) and nobody has checked how it reads "
            "these quotes. To check it: `stakeholder-nlp sample-to-label INPUT --n 40 --out labels.xlsx`, fill "
            "the label column (negative / neutral / positive), then rerun `stakeholder-nlp analyze INPUT ... "
            "--sentiment-labels labels.xlsx` (add `--sentiment-adapt` to adapt the scorer to your labels; its "
            "agreement is then measured by cross-validation).")
