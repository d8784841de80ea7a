"""Findings: only significant, robust, stable changes 'hold'; badges mean one thing each; no 'stable' on a
non-finding; ranked by size."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stakeholder_nlp.report.findings import classify_findings, finding_sentence, sentiment_findings


def _shifts(**over):
    base = {"theme_id": ["a", "b", "c", "d", "e"], "label": ["A", "B", "C", "D", "E"], "wave_a": [1] * 5,
            "wave_b": [2] * 5, "share_a": [0.1, 0.2, 0.3, 0.2, 0.1], "share_b": [0.3, 0.1, 0.3, 0.5, 0.15],
            "share_diff": [0.2, -0.1, 0.0, 0.3, 0.05], "share_diff_lo": [0.1, -0.15, -0.1, 0.1, -0.1],
            "share_diff_hi": [0.3, -0.05, 0.1, 0.5, 0.2], "share_q": [0.01, 0.02, 0.9, 0.001, 0.6],
            "share_significant": [True, True, False, True, False],
            "prevalence_stability": [1.0, 0.9, 1.0, 0.6, 1.0], "caveats": ["", "", "", "", "underpowered"],
            "sentiment_diff": [0.0, 0.3, 0.0, 0.0, 0.0], "sentiment_diff_lo": [-0.1, 0.1, -0.1, -0.1, -0.1],
            "sentiment_diff_hi": [0.1, 0.5, 0.1, 0.1, 0.1], "sentiment_p": [0.9, 0.001, 0.9, 0.9, 0.9],
            "sentiment_stability": [1.0] * 5}
    base.update(over)
    return pd.DataFrame(base)


def test_only_significant_stable_robust_changes_hold_and_rank_by_size():
    r = classify_findings(_shifts())
    assert r["theme_id"].tolist() == ["a", "b", "d", "e", "c"]
    assert r["finding"].tolist() == ["holds", "holds", "needs care", "no change detected", "no change detected"]
    badges = dict(zip(r["theme_id"], r["badges"], strict=True))
    assert badges["a"] == "significant;stable"
    assert badges["d"] == "significant;fragile"
    assert "stable" not in badges["c"] and "stable" not in badges["e"]  # no 'stable' on a non-finding
    assert badges["e"] == "underpowered"


def test_without_reruns_a_significant_change_holds_but_says_not_rerun():
    r = classify_findings(_shifts(prevalence_stability=[np.nan] * 5))
    assert r.set_index("theme_id").loc["a", "badges"] == "significant;not rerun"
    assert r.set_index("theme_id").loc["d", "finding"] == "holds"


def test_composition_and_near_duplicates_are_badged_and_the_old_flags_column_is_read():
    s = _shifts(caveats=["composition", "", "", "", ""]).rename(columns={"caveats": "flags"})
    near = pd.DataFrame({"theme_a": ["c"], "theme_b": ["e"]})
    r = classify_findings(s, near_duplicates=near).set_index("theme_id")
    assert r.loc["a", "finding"] == "needs care" and "composition" in r.loc["a", "badges"]
    assert "near-duplicate" in r.loc["c", "badges"]


def test_a_finding_is_one_sentence_with_interval_q_and_reruns():
    row = classify_findings(_shifts()).iloc[0]
    s = finding_sentence(row, [1, 2])
    assert s == ("A was raised more often in 2 than in 1: 10% → 30% of quotes (+20 points, 95% CI +10 to +30; "
                 "q = 0.010); the direction held in 100% of reruns.")


def test_sentiment_findings_use_fdr_and_stability():
    out = sentiment_findings(_shifts())
    assert out["theme_id"].tolist() == ["b"]
    assert sentiment_findings(_shifts(sentiment_stability=[0.5] * 5)).empty


def test_a_one_point_change_is_singular_and_an_interval_end_at_zero_has_no_sign():
    row = classify_findings(_shifts()).iloc[0].copy()
    row["share_a"], row["share_b"], row["share_diff"] = 0.012, 0.006, -0.006
    row["share_diff_lo"], row["share_diff_hi"] = -0.011, -0.002
    s = finding_sentence(row, [1, 2])
    assert "1.2% → 0.6% of quotes (-1 point, 95% CI -1 to 0;" in s and "-0" not in s
    row["share_diff"] = 0.03
    assert "(+3 points," in finding_sentence(row, [1, 2])


def test_a_difference_under_half_a_point_is_said_with_the_decimals_that_show_it():
    row = classify_findings(_shifts()).iloc[0].copy()
    row["share_a"], row["share_b"], row["share_diff"] = 0.012, 0.016, 0.004
    row["share_diff_lo"], row["share_diff_hi"] = 0.001, 0.007
    assert "1.2% → 1.6% of quotes (+0.4 points, 95% CI +0.1 to +0.7;" in finding_sentence(row, [1, 2])
    row["share_a"], row["share_b"], row["share_diff"] = 0.1201, 0.1204, 0.0003
    row["share_diff_lo"], row["share_diff_hi"] = 0.0001, 0.0005
    s = finding_sentence(row, [1, 2])
    assert "12.01% → 12.04% of quotes (+0.03 points, 95% CI +0.01 to +0.05;" in s


def test_the_shift_tables_sentence_says_a_fraction_of_a_point_with_its_decimals():
    from stakeholder_nlp.report.tables import _sentence

    row = pd.Series({"wave_a": 2016, "wave_b": 2021, "caveats": "", "share_a": 0.2012, "share_b": 0.2046,
                     "share_diff": 0.0034, "share_diff_lo": 0.0011, "share_diff_hi": 0.0057,
                     "share_p": 0.004, "share_q": 0.01, "share_significant": True, "sentiment_diff": np.nan,
                     "prevalence_stability": np.nan, "adj_diff": 0.0021, "adj_diff_lo": -0.0004,
                     "adj_diff_hi": 0.0046})
    s = _sentence("Access", row)
    assert s.startswith("Access: share rose from 20.1% in 2016 to 20.5% in 2021 "
                        "(difference +0.3 points, 95% CI +0.1 to +0.6, p = 0.004")
    assert s.endswith("; adjusted for the strata +0.2 points (95% CI 0 to +0.5).")  # never "-0.0"
