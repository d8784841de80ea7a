"""Who voices a theme in each wave: the speakers among its quotes, out of the wave's speakers, and the spread.

Speakers are the named speakers of a wave. Quotes without a speaker are counted apart (``unattributed``);
a wave with no named speaker at all (a survey whose every comment is its own respondent) counts each of its
quotes as one respondent, as the share tests do (:func:`stakeholder_nlp.shift.inference.canonical_clusters`).

Spread (:func:`spread`): ``none`` (0), ``one`` (a single speaker), ``some`` (more than one, under half),
``half or more`` (at least half of the wave's speakers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..shift.inference import is_missing_speaker

SPREADS = ("none", "one", "some", "half or more")


@dataclass(frozen=True, slots=True)
class Voices:
    """The speakers of one theme in one wave (``speakers`` sorted), out of ``n_wave`` in the wave."""

    speakers: tuple[str, ...]
    n_wave: int
    n_unattributed: int
    respondents: bool  # True when the wave has no named speakers: every quote counts as one respondent

    @property
    def n(self) -> int:
        return self.n_unattributed if self.respondents else len(self.speakers)

    @property
    def share(self) -> float:
        return self.n / self.n_wave if self.n_wave else 0.0

    @property
    def spread(self) -> str:
        return spread(self.n, self.n_wave)

    def describe(self) -> str:
        noun = "respondents" if self.respondents else "speakers"
        text = f"{self.n} of {self.n_wave} {noun}"
        if not self.respondents and self.n_unattributed:
            text += f" (and {self.n_unattributed} unattributed quote{'s' if self.n_unattributed != 1 else ''})"
        return text


def spread(n: int, total: int) -> str:
    """``none``, ``one``, ``some`` or ``half or more`` of ``total`` speakers."""
    if n <= 0:
        return "none"
    if total > 0 and n >= total / 2 and not (n == 1 and total > 2):
        return "half or more"
    return "one" if n == 1 else "some"


class SpeakerCodes:
    """The speakers as integer codes, made once per corpus (a survey has a million of them):
    ``codes[i]`` is row ``i``'s index into ``names`` (sorted), -1 where the row has no speaker."""

    def __init__(self, speakers: Sequence) -> None:
        missing = np.fromiter((is_missing_speaker(s) for s in speakers), dtype=bool, count=len(speakers))
        self.codes = np.full(len(missing), -1, dtype=np.int64)
        named = [str(s) for s, m in zip(speakers, missing.tolist(), strict=True) if not m]
        codes, names = pd.factorize(pd.Series(named, dtype=object), sort=True)
        self.codes[~missing] = codes
        self.names = np.asarray(names, dtype=object)

    def __len__(self) -> int:
        return len(self.codes)


def wave_speakers(speakers: Sequence | SpeakerCodes, in_wave: np.ndarray) -> tuple[set[str], int]:
    """Named speakers of the rows in ``in_wave`` (a boolean mask), and the count of unattributed rows."""
    codes = speakers if isinstance(speakers, SpeakerCodes) else SpeakerCodes(speakers)
    if len(codes) != len(in_wave):
        raise ValueError(f"wave_speakers: {len(codes)} speakers for a mask of {len(in_wave)} rows")
    c = codes.codes[np.asarray(in_wave, dtype=bool)]
    return set(codes.names[np.unique(c[c >= 0])].tolist()), int((c < 0).sum())


def theme_voices(member: np.ndarray, speakers: Sequence | SpeakerCodes, in_wave: np.ndarray, *,
                 wave: tuple[set[str], int] | None = None) -> Voices:
    """Who voices the theme (rows where ``member``) in the wave (rows where ``in_wave``). ``speakers``: one per
    row, or their :class:`SpeakerCodes` (made once where many themes are described); ``wave``: the wave's own
    :func:`wave_speakers`, where it is already known (the same for every theme)."""
    codes = speakers if isinstance(speakers, SpeakerCodes) else SpeakerCodes(speakers)
    all_named, all_missing = wave_speakers(codes, in_wave) if wave is None else wave
    named, missing = wave_speakers(codes, np.asarray(in_wave, dtype=bool) & np.asarray(member, dtype=bool))
    respondents = not all_named
    return Voices(tuple(sorted(named)), all_missing if respondents else len(all_named), missing, respondents)


def transition(a: Voices, b: Voices, wave_a, wave_b) -> str:
    """A phrase for a change in who voices it, or '' when the spread stayed the same.

    "one speaker's view in 2016 (P4), voiced by 3 of 6 speakers in 2021"."""
    if a.spread == b.spread:
        return ""
    if a.spread == "one" and b.n > 1:
        who = f" ({a.speakers[0]})" if a.speakers else ""
        return f"one speaker's view in {wave_a}{who}, voiced by {b.describe()} in {wave_b}"
    if b.spread == "one" and a.n > 1:
        who = f" ({b.speakers[0]})" if b.speakers else ""
        return f"voiced by {a.describe()} in {wave_a}, by one speaker in {wave_b}{who}"
    return ""
