"""What a comparison could have detected: minimum detectable differences and the chance that a view was
missed altogether.

- :func:`mdd`: the smallest difference detectable with 80% power by a two-sided test at alpha = 0.05,
  ``(t_{1-alpha/2, df} + t_{power, df}) × SE`` with the cluster-robust SE and ``df = clusters - 2``
  (an approximation: the SE is the observed one, not the one under the alternative).
- :func:`miss_probability`: Fugard & Potts (2015), the binomial argument for thematic saturation: if a
  view is held by a share ``p`` of the population of speakers and ``n`` speakers were heard, nobody voices
  it with probability ``(1 - p) ** n`` (with 6 speakers, a view held by 20% is missed with p = 0.26).
- :func:`detectable_share`: the smallest share of speakers holding a view that is heard at least once
  with probability ``power``: ``1 - (1 - power) ** (1 / n)``.
"""

from __future__ import annotations

import numpy as np


def mdd(se, n_clusters: int, *, alpha: float = 0.05, power: float = 0.8, df=None):
    from scipy.stats import t

    df = max(int(n_clusters) - 2, 1) if df is None else np.asarray(df, dtype=float)
    return (t.ppf(1 - alpha / 2, df) + t.ppf(power, df)) * np.asarray(se, dtype=float)


def miss_probability(p: float, n):
    return (1.0 - p) ** np.asarray(n, dtype=float)


def detectable_share(n, *, power: float = 0.8):
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(n > 0, 1.0 - (1.0 - power) ** (1.0 / np.maximum(n, 1)), np.nan)


def power_sentence(row, *, alpha: float = 0.05) -> str:
    """The plain-language statement for a prevalence shift that is not called significant: why, and what
    the design could have detected. ``row``: a row of ``result.shifts`` / ``shifts.csv``."""
    a, b = row["wave_a"], row["wave_b"]
    if row["status"] in ("emerging", "vanished"):
        absent, n = (a, row["n_speakers_a"]) if row["status"] == "emerging" else (b, row["n_speakers_b"])
        return (f"not voiced in {absent}: with {int(n)} speakers there (an unattributed quote counts as one), a "
                f"view held by 20% of speakers is missed with probability {row['miss_probability']:.2f}; a view "
                f"held by {row['detectable_share']:.0%} or more would have been heard with 80% probability")
    p, q = row.get("share_p", np.nan), row.get("share_q", np.nan)
    if np.isfinite(p) and p < alpha:
        return (f"p < {alpha:g} but q = {q:.2f} after testing every theme and comparison" if q >= alpha
                else "not called significant (see caveats)")
    if np.isfinite(row.get("share_mdd", np.nan)):
        return (f"not significant: with {int(row['n_speakers_a'])} and {int(row['n_speakers_b'])} speakers "
                f"(an unattributed quote counts as one), a difference of about {100 * row['share_mdd']:.0f} "
                f"points would have been detected with 80% power")
    return ""
