"""The pipeline is a list of declared stages: contracts are checked, a prefix runs alone, a stage can be replaced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stakeholder_nlp.corpus import load_corpus
from stakeholder_nlp.embedding import HashingEmbedder
from stakeholder_nlp.pipeline import INPUTS, STAGES, WORKING_NAMES, analyze, run
from stakeholder_nlp.sentiment import VaderScorer
from stakeholder_nlp.stages import StageError, State, check_stages, replace, run_stages, stage, until

OPTS = {"sentiment": VaderScorer(), "runs": 0, "n_boot": 49, "n_topics": 3, "phrase_labels": False}
CORE = ("prepare", "embedding", "themes", "subthemes", "shift", "sentiment", "stability")
BY_NAME = {s.name: s for s in STAGES}


def _corpus():
    rng = np.random.default_rng(0)
    words = [["data", "missing", "access", "extract"], ["nurse", "team", "pharmacist", "excluded"],
             ["time", "session", "workload", "busy"]]
    rows = [{"quote_id": f"{w}-{s}-{j}", "text": " ".join(rng.choice(words[(s + j + k) % 3], 4)) + f" n{j}",
             "speaker": f"{w}-{s}", "wave": w}
            for k, w in enumerate(("pre", "post")) for s in range(6) for j in range(5)]
    return load_corpus(pd.DataFrame(rows))


def test_stage_names_are_unique_and_each_input_is_assigned_before_use():
    check_stages(STAGES, INPUTS)  # raises on a broken chain
    names = [s.name for s in STAGES]
    assert [n for n in names if n in CORE] == list(CORE)


def test_a_stage_run_without_its_input_names_the_stage_and_the_input():
    with pytest.raises(StageError, match=r"stage 'shift' requires 'themes'"):
        check_stages([BY_NAME["prepare"], BY_NAME["embedding"], BY_NAME["shift"]], INPUTS)
    with pytest.raises(StageError, match=r"stage 'prepare' requires 'input_corpus'"):
        run_stages(State({"embedder": HashingEmbedder(dim=8)}), STAGES[:1])


def test_a_stage_reading_an_undeclared_name_or_returning_other_names_fails_with_its_name():
    sneaky = stage("sneaky", lambda s: {"n": s["embedder"]}, requires=("input_corpus",), assigns=("n",))
    with pytest.raises(StageError, match=r"stage 'sneaky' read 'embedder'"):
        run_stages(State({"input_corpus": 1, "embedder": 2}), [sneaky])
    liar = stage("liar", lambda s: {"m": 1}, requires=("input_corpus",), assigns=("n",))
    with pytest.raises(StageError, match=r"stage 'liar' declares assigns \['n'\].*missing \['n'\]"):
        run_stages(State({"input_corpus": 1}), [liar])


def test_a_name_is_assigned_once_and_unknown_stage_names_are_refused():
    twice = stage("again", lambda s: {"corpus": None}, assigns=("corpus",))
    with pytest.raises(StageError, match=r"stage 'again' assigns 'corpus', which stage 'prepare'"):
        check_stages([STAGES[0], twice], INPUTS)
    with pytest.raises(StageError, match=r"no stage 'topics'; the stages are \['prepare'"):
        until(STAGES, "topics")


def test_a_prefix_runs_the_themes_alone_and_records_what_ran():
    seen = []
    state = run(_corpus(), HashingEmbedder(dim=64), stages=until(STAGES, "themes"), on_stage=seen.append, **OPTS)
    assert seen == ["prepare", "embedding", "themes"] == list(state.timings)
    assert state["themes"].membership.shape[0] == 60 and "sentiment_scores" not in state
    assert [r["name"] for r in state.record] == seen and state.record[2]["assigns"][0] == "themes"


def test_analyze_with_a_replaced_stage_uses_it_and_records_the_stage_list():
    def constant(s):
        n = len(s["corpus"])
        out = dict.fromkeys(BY_NAME["sentiment"].assigns)
        out.update(sentiment_scores=np.zeros(n), sentiment_labels=["neutral"] * n)
        from stakeholder_nlp.sentiment import sentiment_levels, sentiment_shift

        q, m = s["corpus"].quotes, s["themes"].membership
        out["sentiment_levels"] = sentiment_levels(m, out["sentiment_scores"], out["sentiment_labels"],
                                                   q["wave"].tolist(), q["speaker"].tolist(),
                                                   wave_order=s["wave_order"])
        out["sentiment_shifts"] = sentiment_shift(m, out["sentiment_scores"], q["wave"].tolist(),
                                                  q["speaker"].tolist(), wave_order=s["wave_order"])
        out["sentiment_notice"] = ""
        return out

    mine = stage("sentiment", constant, requires=BY_NAME["sentiment"].requires, assigns=BY_NAME["sentiment"].assigns)
    core = [s for s in STAGES if s.name in CORE]
    a = analyze(_corpus(), HashingEmbedder(dim=64), stages=replace(core, "sentiment", mine), **OPTS)
    assert (a.sentiment_scores == 0).all() and a.stability is None
    stages = a.config["stages"]
    assert [s["name"] for s in stages] == list(CORE)
    assert stages[-1] == {"name": "stability", "requires": list(BY_NAME["stability"].requires),
                          "assigns": ["stability"], "ran": False}
    assert "stability" not in a.timings and set(a.timings) == set(CORE[:-1])
    assert "wave_order" in a.outputs and not set(WORKING_NAMES) & set(a.outputs)  # working values are freed


def test_analyze_refuses_a_prefix_and_points_to_run():
    with pytest.raises(StageError, match=r"analyze needs stages that assign .*pipeline\.run"):
        analyze(_corpus(), HashingEmbedder(dim=64), stages=until(STAGES, "embedding"), **OPTS)
