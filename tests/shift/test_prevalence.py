"""Prevalence statistics on synthetic corpora with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from stakeholder_nlp.shift import SHIFT_COLUMNS, prevalence_levels, prevalence_shift, prevalence_trend


def synthetic(p_a, p_b, *, speakers=12, per_speaker=10, speaker_sd=0.0, seed=0, waves=(2016, 2021)):
    """Quotes from speakers nested in waves; a speaker's propensity varies around the wave's rate."""
    rng = np.random.default_rng(seed)
    rows = []
    for wave, p in zip(waves, (p_a, p_b), strict=True):
        for s in range(speakers):
            logit = np.log(p / (1 - p)) + rng.normal(0, speaker_sd)
            ps = 1 / (1 + np.exp(-logit))
            for _ in range(per_speaker):
                rows.append({"wave": wave, "speaker": f"{wave}-{s}", "theme": rng.random() < ps})
    return pd.DataFrame(rows)


def run(df, **kw):
    kw.setdefault("n_boot", 499)
    return prevalence_shift(df[["theme"]], df["wave"], df["speaker"], **kw).iloc[0]


def test_shift_columns_are_the_documented_ones_and_none_is_called_flags():
    out = prevalence_shift(*_args(synthetic(0.2, 0.4)), n_boot=99)
    assert list(out.columns) == list(SHIFT_COLUMNS) and "flags" not in out.columns


def _args(df):
    return df[["theme"]], df["wave"], df["speaker"]


def test_planted_shift_is_found():
    row = run(synthetic(0.15, 0.55, seed=1))
    assert row["share_diff_lo"] > 0 and row["share_significant"] and row["share_p"] < 0.01
    assert abs(row["share_diff"] - 0.4) < 0.12


def test_interval_and_test_agree():
    """The interval inverts the test: it excludes 0 exactly when p < 0.05."""
    for seed in range(12):
        df = synthetic(0.3, 0.3 + 0.03 * seed, speakers=6, per_speaker=8, speaker_sd=0.8, seed=seed)
        row = run(df, n_boot=399)
        excludes = row["share_diff_lo"] > 0 or row["share_diff_hi"] < 0
        assert excludes == (row["share_p"] < 0.05), (seed, row[["share_diff_lo", "share_diff_hi", "share_p"]])


def test_speaker_clustering_widens_intervals():
    df = synthetic(0.3, 0.3, speakers=10, per_speaker=15, speaker_sd=1.5, seed=3)
    clustered = run(df)
    independent = run(df.assign(speaker=[f"q{i}" for i in range(len(df))]))
    width = clustered["share_diff_hi"] - clustered["share_diff_lo"]
    assert width > 1.3 * (independent["share_diff_hi"] - independent["share_diff_lo"])


def test_cell_voiced_by_one_speaker_is_not_estimable_and_never_significant():
    df = synthetic(0.01, 0.01, seed=4)
    df["theme"] = False
    df.loc[(df["wave"] == 2016) & (df["speaker"] == "2016-0"), "theme"] = True  # one 2016 speaker, 10 quotes
    df.loc[(df["wave"] == 2021) & df["speaker"].isin(["2021-1", "2021-2", "2021-3"]), "theme"] = True
    row = run(df)
    assert not row["estimable_a"] and row["estimable_b"] and not row["share_significant"]
    # its change is published without an interval or test (what the calibration is judged on)
    assert np.isnan([row["share_diff_lo"], row["share_diff_hi"], row["share_p"], row["share_q"]]).all()
    assert row["share_diff"] != 0
    lv = prevalence_levels(*_args(df), n_boot=99).set_index("wave")
    assert not lv.loc[2016, "estimable"] and np.isnan(lv.loc[2016, "share_lo"])
    assert lv.loc[2021, "estimable"] and lv.loc[2021, "share_lo"] <= lv.loc[2021, "share"] <= lv.loc[2021, "share_hi"]


def test_underpowered_is_judged_per_wave():
    df = synthetic(0.4, 0.4, seed=8)
    keep_2021 = df["speaker"].isin(["2021-0", "2021-1"])  # the theme in 2021: 2 speakers only
    df.loc[(df["wave"] == 2021) & ~keep_2021, "theme"] = False
    row = run(df)
    assert row["underpowered"] and not row["share_significant"]


def test_theme_in_one_wave_only_says_what_could_have_been_missed():
    df = synthetic(0.3, 0.3, seed=5)
    df.loc[df["wave"] == 2021, "theme"] = False
    row = run(df)
    assert row["status"] == "vanished" and not row["share_significant"]
    assert row["miss_probability"] == 0.8 ** 12  # a view held by 20% of 12 speakers, heard by none
    assert abs(row["detectable_share"] - (1 - 0.2 ** (1 / 12))) < 1e-12


def test_minimum_detectable_difference_shrinks_with_more_speakers():
    small = run(synthetic(0.3, 0.3, speakers=6, seed=9, speaker_sd=0.5))
    large = run(synthetic(0.3, 0.3, speakers=30, seed=9, speaker_sd=0.5))
    assert large["share_mdd"] < small["share_mdd"]


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
    row = run(df, strata=df[["site"]])
    assert row["share_diff"] > 0.3 and row["share_diff_lo"] > 0
    assert abs(row["adj_diff"]) < 0.15 and row["adj_diff_lo"] <= row["adj_diff"] <= row["adj_diff_hi"]
    assert row["composition"]


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_shift_between_identical_waves_is_zero(seed):
    rng = np.random.default_rng(seed)
    a = pd.DataFrame({"theme": rng.random(30) < 0.4, "speaker": [f"s{i % 6}" for i in range(30)]})
    df = pd.concat([a.assign(wave=1), a.assign(wave=2, speaker="t" + a["speaker"])], ignore_index=True)
    row = run(df, n_boot=99)
    assert row["share_diff"] == 0


def test_levels_have_one_row_per_theme_and_wave():
    df = synthetic(0.2, 0.4)
    df["other"] = ~df["theme"]
    lv = prevalence_levels(df[["theme", "other"]], df["wave"], df["speaker"], n_boot=199)
    assert len(lv) == 4 and set(lv["wave"]) == {2016, 2021}
    assert ((lv["share_lo"] <= lv["share"]) & (lv["share"] <= lv["share_hi"])).all()


def test_three_waves_give_consecutive_pairs_first_to_last_and_a_trend():
    a = synthetic(0.1, 0.3, seed=11, waves=("pre", "mid"))
    b = synthetic(0.5, 0.5, seed=12, waves=("post", "x"))
    df = pd.concat([a, b[b["wave"] == "post"]], ignore_index=True)
    out = prevalence_shift(*_args(df), n_boot=199)
    assert [(r.wave_a, r.wave_b, r.comparison) for r in out.itertuples()] == [
        ("pre", "mid", "consecutive"), ("mid", "post", "consecutive"), ("pre", "post", "first-last")]
    trend = prevalence_trend(*_args(df), n_boot=199).iloc[0]
    assert trend["waves"] == "pre → mid → post" and trend["share_trend_lo"] > 0 and trend["share_trend_p"] < 0.05
    assert prevalence_trend(*_args(a), n_boot=99).empty  # two waves: no trend row


def test_share_intervals_stay_within_zero_and_one():
    from stakeholder_nlp.shift import prevalence_levels

    rng = np.random.default_rng(3)
    n = 90
    waves = np.repeat([2016, 2021], n // 2)
    speakers = [f"s{i % 12}-{w}" for i, w in enumerate(waves)]
    membership = pd.DataFrame({"rare": rng.random(n) < 0.04, "common": rng.random(n) < 0.96})
    lv = prevalence_levels(membership, waves.tolist(), speakers, n_boot=199, seed=0)
    ok = lv[lv["estimable"]]
    assert len(ok) and (ok["share_lo"] >= 0).all() and (ok["share_hi"] <= 1).all()
