"""Statistics on synthetic corpora with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from stakeholder_nlp.shift import prevalence_levels, prevalence_shift


def synthetic(p_a, p_b, *, speakers=12, per_speaker=10, speaker_sd=0.0, seed=0, strata_effect=None):
    """Quotes from speakers nested in waves; a speaker's propensity varies around the wave's rate."""
    rng = np.random.default_rng(seed)
    rows = []
    for wave, p in ((2016, p_a), (2021, p_b)):
        for s in range(speakers):
            logit = np.log(p / (1 - p)) + rng.normal(0, speaker_sd)
            ps = 1 / (1 + np.exp(-logit))
            for _ in range(per_speaker):
                rows.append({"wave": wave, "speaker": f"{wave}-{s}", "theme": rng.random() < ps})
    return pd.DataFrame(rows)


def run(df, **kw):
    return prevalence_shift(df[["theme"]], df["wave"], df["speaker"], n_boot=600, **kw).iloc[0]


def test_planted_shift_is_found():
    row = run(synthetic(0.15, 0.55, seed=1))
    assert row["diff_lo"] > 0 and row["significant"] and row["p_value"] < 0.01
    assert abs(row["diff"] - 0.4) < 0.12


def test_no_shift_interval_covers_zero_about_95_percent():
    covered = [run(synthetic(0.3, 0.3, seed=s, speaker_sd=0.5))[["diff_lo", "diff_hi"]] for s in range(120)]
    rate = np.mean([lo <= 0 <= hi for lo, hi in covered])
    assert 0.88 <= rate <= 0.99, rate


def test_speaker_clustering_widens_intervals():
    df = synthetic(0.3, 0.3, speakers=10, per_speaker=15, speaker_sd=1.5, seed=3)
    clustered = run(df)
    df_indep = df.assign(speaker=[f"q{i}" for i in range(len(df))])
    independent = run(df_indep)
    width = clustered["diff_hi"] - clustered["diff_lo"]
    assert width > 1.3 * (independent["diff_hi"] - independent["diff_lo"])


def test_small_theme_is_underpowered_and_never_significant():
    df = synthetic(0.01, 0.01, seed=4)
    df["theme"] = False
    df.loc[df.index[-3:], "theme"] = True  # three quotes, all 2021
    row = run(df)
    assert row["underpowered"] and not row["significant"]
    assert row["status"] == "emerging"
    assert row["diff_hi"] - row["diff_lo"] > 0.0


def test_theme_in_one_wave_only_is_reported_not_an_error():
    df = synthetic(0.3, 0.3, seed=5)
    df.loc[df["wave"] == 2021, "theme"] = False
    row = run(df)
    assert row["status"] == "vanished" and row["test"] == "speaker-fisher"


def test_planted_composition_effect_is_flagged():
    # within each site nothing changes; 2021 interviewed mostly the high-prevalence site
    rng = np.random.default_rng(6)
    rows = []
    for wave, n_hi in ((2016, 2), (2021, 10)):
        for s in range(12):
            site = "high" if s < n_hi else "low"
            p = 0.7 if site == "high" else 0.1
            for _ in range(10):
                rows.append({"wave": wave, "speaker": f"{wave}-{s}", "site": site, "theme": rng.random() < p})
    df = pd.DataFrame(rows)
    row = prevalence_shift(df[["theme"]], df["wave"], df["speaker"], strata=df[["site"]], n_boot=600).iloc[0]
    assert row["diff"] > 0.3 and row["diff_lo"] > 0
    assert abs(row["adj_diff"]) < 0.15
    assert row["composition_flag"]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_shift_between_identical_waves_is_zero(seed):
    rng = np.random.default_rng(seed)
    a = pd.DataFrame({"theme": rng.random(30) < 0.4, "speaker": [f"s{i % 6}" for i in range(30)]})
    df = pd.concat([a.assign(wave=1), a.assign(wave=2, speaker="t" + a["speaker"])], ignore_index=True)
    row = prevalence_shift(df[["theme"]], df["wave"], df["speaker"], n_boot=200).iloc[0]
    assert row["diff"] == 0


def test_levels_have_one_row_per_theme_and_wave():
    df = synthetic(0.2, 0.4)
    df["other"] = ~df["theme"]
    lv = prevalence_levels(df[["theme", "other"]], df["wave"], df["speaker"], n_boot=200)
    assert len(lv) == 4 and set(lv["wave"]) == {2016, 2021}
    assert ((lv["share_lo"] <= lv["share"]) & (lv["share"] <= lv["share_hi"])).all()
