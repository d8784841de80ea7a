"""From the shift table to findings: which changes hold, which need care, and what did not change.

:func:`classify_findings` adds two columns to the report's shift table (:data:`FINDING_COLUMNS`):

``finding``
    ``holds``: the share changed significantly after Benjamini-Hochberg (q < 0.05), the theme is not
    underpowered, the change is robust to composition (pooled and strata-adjusted agree) and its direction
    held in at least ``min_stability`` of the reruns (or stability was not rerun: then ``holds`` with the
    badge saying so); ``needs care``: significant, but fragile across reruns or explained by who was
    interviewed; ``no change detected``: everything else (not significant, or too few quotes/speakers).
``badges``
    ``;``-separated, each meaning one thing: ``significant`` (q < 0.05), ``stable`` (direction held in
    >= ``min_stability`` of reruns: given to significant changes only), ``not rerun``, ``fragile``,
    ``composition``, ``underpowered``, ``emerging``, ``vanished``, ``near-duplicate``.

The caveat column of the shift table is read whatever it is called (``caveats`` or the older ``flags``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FINDING_COLUMNS = ("finding", "badges")
FINDING_ORDER = ("holds", "needs care", "no change detected")


def caveat_column(shifts: pd.DataFrame) -> str | None:
    for name in ("caveats", "flags"):
        if name in shifts.columns:
            return name
    return None


def _caveats(row, col: str | None) -> list[str]:
    if col is None:
        return []
    v = row[col]
    return [f for f in str(v).split(";") if f and f != "nan"] if isinstance(v, str) else []


def classify_findings(shifts: pd.DataFrame, *, min_stability: float = 0.8,
                      near_duplicates: pd.DataFrame | None = None) -> pd.DataFrame:
    """The shift table with ``finding`` and ``badges`` columns, findings first, ranked by size."""
    col = caveat_column(shifts)
    dup = set()
    if near_duplicates is not None and len(near_duplicates):
        dup = set(near_duplicates["theme_a"]) | set(near_duplicates["theme_b"])
    findings, badges = [], []
    for _, r in shifts.iterrows():
        cav = _caveats(r, col)
        sig = bool(r.get("share_significant", False))
        stab = r.get("prevalence_stability", np.nan)
        rerun = np.isfinite(stab) if isinstance(stab, float | int | np.floating) else False
        stable = rerun and stab >= min_stability
        b = []
        if sig:
            b.append("significant")
            if stable and "fragile" not in cav:  # never both: a caveat of the stage wins
                b.append("stable")
            elif not rerun:
                b.append("not rerun")
        if sig and rerun and not stable and "fragile" not in cav:
            cav = [*cav, "fragile"]
        if not sig:  # the direction of a change that was not found cannot be fragile or stable
            cav = [c for c in cav if c != "fragile"]
        b += [c for c in cav if c not in b]
        if r.get("theme_id") in dup:
            b.append("near-duplicate")
        if sig and not ({"fragile", "composition", "underpowered"} & set(cav)):
            f = "holds"
        elif sig:
            f = "needs care"
        else:
            f = "no change detected"
        findings.append(f)
        badges.append(";".join(b))
    out = shifts.assign(finding=findings, badges=badges)
    size = out["share_diff"].abs().fillna(0) if "share_diff" in out.columns else 0
    out = out.assign(_rank=out["finding"].map({f: i for i, f in enumerate(FINDING_ORDER)}), _size=-size)
    return out.sort_values(["_rank", "_size"], kind="stable").drop(columns=["_rank", "_size"]).reset_index(drop=True)


def signed_points(v: float, digits: int = 0) -> str:
    """A share difference in percentage points (``digits`` decimals) with its sign; 0 without one (never
    "-0")."""
    k = round(100 * float(v), digits)
    return "0" if k == 0 else f"{k:+.{digits}f}"


def points_phrase(v: float, digits: int = 0) -> str:
    """``+3 points``, ``-1 point``, ``0 points``, ``+0.4 points``."""
    k = round(100 * float(v), digits)
    return f"{signed_points(v, digits)} point{'' if abs(k) == 1 else 's'}"


def point_digits(d: float) -> int:
    """Decimals for a difference of ``d`` (a share) to print as other than 0 points: 0 from half a point,
    then 1, then 2 (a large corpus makes a difference of a fraction of a point significant)."""
    p = abs(100 * float(d))
    return 0 if p >= 0.5 else 1 if p >= 0.05 else 2


def pct_pair(x: float, y: float, at_least: int = 0) -> tuple[str, str]:
    """Two shares as percentages with the fewest decimals (``at_least`` to 2) at which they differ:
    ``1.2% → 0.6%``, not ``1% → 1%``."""
    for digits in range(at_least, 3):
        sx, sy = f"{100 * x:.{digits}f}%", f"{100 * y:.{digits}f}%"
        if sx != sy:
            break
    return sx, sy


def finding_sentence(row, waves) -> str:
    """One plain sentence: direction, shares, difference with its interval, q, reruns. The row's own
    ``wave_a``/``wave_b`` are used when present (three or more waves), else the first and last of ``waves``."""
    a, b = (row["wave_a"], row["wave_b"]) if "wave_a" in row.index else (waves[0], waves[-1])
    d = row["share_diff"]
    more = "more" if d > 0 else "less"
    k = point_digits(d)
    share_a, share_b = pct_pair(row["share_a"], row["share_b"], at_least=k)  # as precise as the difference
    s = (f"{row['label']} was raised {more} often in {b} than in {a}: {share_a} → {share_b} of quotes "
         f"({points_phrase(d, k)}, 95% CI {signed_points(row['share_diff_lo'], k)} to "
         f"{signed_points(row['share_diff_hi'], k)}; "
         f"q = {row['share_q']:.3f})")
    stab = row.get("prevalence_stability", np.nan)
    if np.isfinite(stab):
        s += f"; the direction held in {stab:.0%} of reruns"
    return s + "."


def detection_statement(row) -> str:
    """What could have been detected, from the shift table's detection columns when present."""
    if {"status", "n_speakers_a", "n_speakers_b"} <= set(row.index):
        try:
            from ..shift.power import power_sentence

            said = power_sentence(row)
            if said:
                return said
        except (ImportError, KeyError, TypeError, ValueError):
            pass
    for c in row.index:
        if "detect" in c and isinstance(row[c], str) and row[c]:
            return row[c]
    for c in ("share_mdd", "mdd", "min_detectable_diff", "detectable_diff"):
        if c in row.index and np.isfinite(row[c]):
            return f"a change smaller than ±{100 * row[c]:.0f} points could not have been detected reliably"
    return ""


def sentiment_findings(shifts: pd.DataFrame, alpha: float = 0.05, min_stability: float = 0.8) -> pd.DataFrame:
    """Themes whose mean sentiment changed (BH across themes on ``sentiment_p`` unless ``sentiment_q``
    is given), largest first; stable where the sign held in ``min_stability`` of reruns."""
    if "sentiment_p" not in shifts.columns:
        return shifts.iloc[0:0]
    if "sentiment_q" in shifts.columns:
        q = shifts["sentiment_q"].to_numpy(float)
    else:
        from ..shift.waves import bh_qvalues

        q = np.asarray(bh_qvalues(shifts["sentiment_p"]), dtype=float)
    out = shifts.assign(sentiment_q_bh=q)
    stab = out["sentiment_stability"] if "sentiment_stability" in out.columns else pd.Series(np.nan, index=out.index)
    keep = (out["sentiment_q_bh"] < alpha) & (stab.isna() | (stab >= min_stability))
    out = out[keep]
    return out.iloc[np.argsort(-out["sentiment_diff"].abs().to_numpy(), kind="stable")]
