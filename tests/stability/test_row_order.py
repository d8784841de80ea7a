"""Any row order of the input gives the same results (README: "Same input + seed gives identical CSVs, in any
row order"), stability reruns included: their subsamples are drawn over the quotes in a canonical order
(wave, speaker key, quote key), as the bootstrap weights are tied to sorted speaker keys.

``analyze`` runs on the built-in corpus and on the same rows shuffled (fake hashing embedder, VADER,
2 stability reruns per kind; the runner before this change failed it on shifts.csv), and every output file is compared: byte for byte, except that files with one
row per quote in input order (``quotes.csv``, ``assignment.csv``, ``curation_state.parquet``) are compared
with their rows sorted by quote id, the workbook by its cells, and ``run.json`` without the input's path and
checksum (the shuffled file is another file) and the timings.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stakeholder_nlp.stability import run_stability
from stakeholder_nlp.stability.runner import canonical_order
from stakeholder_nlp.themes import TopicModel, fit_themes
from tests.themes.test_topics import _plain, planted

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus" / "gp_clusters" / "quotes.jsonl"
ARGS = ["--runs", "2", "--n-boot", "50", "--n-topics", "4", "--seed", "0"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """``analyze`` on the corpus as shipped and with its rows shuffled (``q.jsonl`` both times)."""
    from typer.testing import CliRunner

    import stakeholder_nlp.embedding as embedding
    import stakeholder_nlp.sentiment as sentiment
    from stakeholder_nlp.cli import app
    from stakeholder_nlp.embedding import HashingEmbedder
    from stakeholder_nlp.sentiment import VaderScorer

    tmp = tmp_path_factory.mktemp("row_order")
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    shuffled = lines[:]
    random.Random(5).shuffle(shuffled)
    assert shuffled != lines
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(embedding, "load_embedder", lambda *a, **k: HashingEmbedder(dim=64))
        mp.setattr(sentiment, "load_scorer", lambda *a, **k: VaderScorer())
        mp.setenv("STAKEHOLDER_NLP_CACHE", str(tmp / "cache"))
        for name, rows in (("a", lines), ("b", shuffled)):
            (tmp / name).mkdir()
            src = tmp / "q.jsonl"  # one path for both (rewritten between the runs): the outputs name it
            src.write_text("\n".join(rows) + "\n", encoding="utf-8")
            res = CliRunner().invoke(app, ["analyze", str(src), "--out", str(tmp / name / "out"), *ARGS])
            assert res.exit_code == 0, res.output
    return tmp / "a" / "out", tmp / "b" / "out"


#: one row per quote, in input order (documented: quotes.csv "one row per quote ... every input column")
PER_QUOTE = ("quotes.csv", "assignment.csv", "curation_state.parquet")

#: order dependence outside the stability reruns, found by this test and left to the modules' owners
KNOWN: dict[str, str] = {}  # every output file is identical under a shuffle


def _files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def _read_sorted(path: Path) -> pd.DataFrame:
    df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str, keep_default_na=False)
    return df.sort_values("quote_id", kind="stable").reset_index(drop=True)


def _workbook_cells(path: Path) -> dict[str, list[tuple]]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    try:
        return {ws.title: sorted(map(repr, ws.iter_rows(values_only=True))) for ws in wb.worksheets}
    finally:
        wb.close()


def _run_json(path: Path) -> dict:
    run = json.loads(path.read_text())
    for key in ("input", "input_sha256"):
        run.pop(key)

    def drop_timings(x):
        if isinstance(x, dict):
            return {k: drop_timings(v) for k, v in x.items() if "timing" not in k and k != "seconds"}
        return x

    return drop_timings(run)


def test_shuffled_input_writes_the_same_set_of_files(two_runs):
    a, b = two_runs
    assert _files(a) == _files(b)
    assert {"shifts.csv", "quotes.csv", "report.html", "run.json"} <= set(_files(a))


def _cases() -> list:
    names = ["assignment.csv", "curation_state.parquet", "echoes.csv", "figures/prevalence_by_wave.png",
             "figures/prevalence_by_wave.svg", "figures/sentiment_by_theme.png", "figures/sentiment_by_theme.svg",
             "quotes.csv", "run.json", "shifts.csv", "theme_changes.csv", "framework_matrix.csv",
             "framework_matrix.xlsx", "themes.toml", "figures/quote_map.png", "figures/quote_map.svg", "report.html",
             *KNOWN]
    return [pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN[n], strict=True)) if n in KNOWN else n
            for n in sorted(names)]


@pytest.mark.slow
@pytest.mark.parametrize("name", _cases())
def test_shuffled_input_gives_identical_output(two_runs, name):
    """Byte for byte (``shifts.csv``: stability columns included), per-quote files with rows sorted."""
    a, b = two_runs
    if name in PER_QUOTE:
        pd.testing.assert_frame_equal(_read_sorted(a / name), _read_sorted(b / name))
    elif name.endswith(".xlsx"):
        assert _workbook_cells(a / name) == _workbook_cells(b / name)
    elif name == "run.json":
        assert _run_json(a / name) == _run_json(b / name)
    else:
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_every_output_file_is_compared(two_runs):
    a, _ = two_runs
    compared = {p.values[0] if hasattr(p, "values") else p for p in _cases()}
    assert set(_files(a)) <= compared


# -- the runner itself: shuffled rows, every table and the consensus per quote --------------------------------

def _design(n):
    waves = np.where(np.arange(n) % 2, 2021, 2016).astype(object)
    return waves, [None if i % 7 == 0 else f"s{i % 5}" for i in range(n)]  # some unattributed quotes


def test_stability_tables_consensus_and_panel_do_not_depend_on_row_order():
    """Subsamples from a panel (``max_quotes``), unattributed quotes among them."""
    max_quotes = 40
    texts, x, _ = planted(n_per=15, noise=0.5)
    waves, speakers = _design(len(texts))
    ids = [f"q{i:03d}" for i in range(len(texts))]
    scores = np.tanh(3 * x[:, 0]).astype(np.float64)
    perm = np.random.default_rng(11).permutation(len(texts))

    def run(order):
        t = [texts[i] for i in order]
        model = TopicModel(4, lemmatizer=_plain, stability_draws=5)
        ref = fit_themes(t, x[order], topic_model=model)
        return run_stability(t, x[order], waves[order], [speakers[i] for i in order], reference=ref, runs=3,
                             topic_model=model, lemmatizer=_plain, n_boot=49, sentiment_scores=scores[order],
                             n_jobs=1, max_quotes=max_quotes, keys=[ids[i] for i in order])

    base, shuf = run(np.arange(len(texts))), run(perm)
    for table in ("runs", "summary", "themes", "findings"):
        pd.testing.assert_frame_equal(getattr(base, table), getattr(shuf, table), check_exact=True)
    # per quote: the consensus label of each quote id, and the same panel of quotes
    assert dict(zip(ids, base.consensus, strict=True)) == dict(zip([ids[i] for i in perm], shuf.consensus,
                                                                    strict=True))
    assert sorted(ids[i] for i in base.panel) == sorted(ids[perm[i]] for i in shuf.panel)


def test_canonical_order_sorts_by_wave_speaker_and_key_with_unattributed_last():
    waves = [2021, 2016, 2016, 2016, 2021]
    speakers = ["b", None, "b", "a", "a"]
    keys = ["q1", "q2", "q3", "q4", "q5"]
    assert canonical_order(waves, speakers, keys).tolist() == [3, 2, 1, 4, 0]
    perm = [4, 2, 0, 3, 1]
    order = canonical_order([waves[i] for i in perm], [speakers[i] for i in perm], [keys[i] for i in perm])
    assert [keys[perm[i]] for i in order] == ["q4", "q3", "q2", "q5", "q1"]
