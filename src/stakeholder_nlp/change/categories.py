"""The category of a theme's change between two waves, from the vocabulary of longitudinal qualitative
analysis (Saldaña 2003, *Longitudinal Qualitative Research*: what increases, emerges, is cumulative, ceases,
is consistent...). Several may apply; the rule that assigned each is returned beside it.

With ``v_a``/``v_b`` the share of each wave's speakers voicing the theme and ``t_a``/``t_b`` its mean tone:

* ``emerged``: voiced by nobody in the earlier wave, by someone in the later one;
* ``ceased``: voiced in the earlier wave, by nobody in the later one;
* ``persisted``: voiced in both waves;
* ``reversed``: persisted, and the tone is polar (|t| >= 0.1) in both waves with opposite signs;
* ``intensified``: persisted, not reversed, and voiced more widely (v_b - v_a >= 0.15) or its tone moved
  away from neutral by at least 0.2 (|t_b| - |t_a| >= 0.2, the same sign or from neutral);
* ``softened``: persisted, not reversed or intensified, and voiced less widely (v_a - v_b >= 0.15) or its tone
  moved towards neutral by at least 0.2;
* ``realised``: at least one earlier anticipation is echoed by a later report of experience (came true, unmet
  or met).
"""

from __future__ import annotations

import numpy as np

CATEGORIES = ("emerged", "ceased", "persisted", "intensified", "softened", "reversed", "realised")
WIDER = 0.15
STRONGER = 0.2
POLAR = 0.1


def _polar(t: float) -> int:
    if not np.isfinite(t) or abs(t) < POLAR:
        return 0
    return 1 if t > 0 else -1


def categorise(n_a: int, n_b: int, v_a: float, v_b: float, t_a: float, t_b: float,
               n_realised: int) -> list[tuple[str, str]]:
    """``[(category, rule with the numbers), ...]`` in :data:`CATEGORIES` order."""
    out: list[tuple[str, str]] = []
    if n_a == 0 and n_b > 0:
        out.append(("emerged", f"voiced by nobody in the earlier wave, by {n_b} in the later"))
    if n_a > 0 and n_b == 0:
        out.append(("ceased", f"voiced by {n_a} in the earlier wave, by nobody in the later"))
    if n_a > 0 and n_b > 0:
        out.append(("persisted", f"voiced in both waves ({n_a} and {n_b} speakers)"))
        pa, pb = _polar(t_a), _polar(t_b)
        reversed_ = pa != 0 and pb != 0 and pa != pb
        dv = v_b - v_a
        both = np.isfinite(t_a) and np.isfinite(t_b)
        dt = abs(t_b) - abs(t_a) if both else 0.0
        same_dir = both and (pa == 0 or pb == 0 or pa == pb)
        if reversed_:
            out.append(("reversed", f"tone {t_a:+.2f} -> {t_b:+.2f} (polar, opposite signs)"))
        else:
            wider, stronger = dv >= WIDER, same_dir and dt >= STRONGER
            if wider or stronger:
                why = [f"share of speakers {v_a:.2f} -> {v_b:.2f}"] if wider else []
                why += [f"tone {t_a:+.2f} -> {t_b:+.2f}, away from neutral"] if stronger else []
                out.append(("intensified", "; ".join(why)))
            elif dv <= -WIDER or (same_dir and dt <= -STRONGER):
                why = [f"share of speakers {v_a:.2f} -> {v_b:.2f}"] if dv <= -WIDER else []
                why += [f"tone {t_a:+.2f} -> {t_b:+.2f}, towards neutral"] if same_dir and dt <= -STRONGER else []
                out.append(("softened", "; ".join(why)))
    if n_realised > 0:
        out.append(("realised", f"{n_realised} earlier anticipation(s) echoed by later experience"))
    return out
