"""On a Ray cluster (a local one: two worker actors, two CPUs) the model passes give the floats of the
single-process run, and ``analyze --ray`` writes the files of a run without it.

Every pass is planned on the driver as the units (model calls) the single-process run makes, so each unit
is the same call wherever it runs: compared byte for byte, not within a tolerance.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stakeholder_nlp.embedding import embed_texts
from stakeholder_nlp.embedding.distributed import RayExecutor
from stakeholder_nlp.embedding.executor import LocalExecutor, run_units

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus" / "gp_clusters" / "quotes.jsonl"


@pytest.fixture(scope="module")
def cluster():
    """A local Ray instance with two worker actors per pass, shut down after this module."""
    ex = RayExecutor("local", workers=2).start()
    try:
        yield ex
    finally:
        ex.close()


@pytest.fixture(scope="module")
def texts():
    return [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def test_ray_usage_statistics_are_off_before_ray_starts(cluster):
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"


def test_embedding_chunks_on_ray_are_the_in_process_vectors(cluster, texts, fast_embedder):
    # small chunks: many units, spread over both actors
    local = embed_texts(texts, fast_embedder, chunk_tokens=1024)
    remote = embed_texts(texts, fast_embedder, chunk_tokens=1024, executor=cluster)
    assert remote.n_embedded == len(set(texts))
    assert remote.vectors.tobytes() == local.vectors.tobytes()


def test_sentiment_model_batches_on_ray_give_the_in_process_scores(cluster, texts):
    from stakeholder_nlp.sentiment.finetuned import FineTunedScorer

    scorer = FineTunedScorer()
    assert len(scorer.model_batches(texts)) > 2
    pd.testing.assert_frame_equal(scorer.score_quotes(texts, executor=cluster), scorer.score_quotes(texts),
                                  check_exact=True)


def test_theme_assignment_blocks_on_ray_are_the_in_process_assignment(cluster):
    from stakeholder_nlp.themes.topics import NearestCentroid, assign_nearest

    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 24)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cent = x[:6] / np.linalg.norm(x[:6], axis=1, keepdims=True)
    rows = np.arange(37, 500)
    nearest = NearestCentroid(np.array([10, 11, 12, 13, 14, 15]), cent)
    local = assign_nearest(x, rows, nearest, block=50)
    np.testing.assert_array_equal(assign_nearest(x, rows, nearest, block=50, executor=cluster), local)
    np.testing.assert_array_equal(local, nearest.assign(x[rows]))


def test_shards_read_and_embedded_by_ray_workers_are_the_in_process_file(cluster, tmp_path, fast_embedder):
    from stakeholder_nlp.embedding.shards import embed_shards

    from .test_shards import _frame, write_shards

    folder = write_shards(tmp_path / "shards", _frame(), parts=4)  # one unit per shard: a path, no texts
    here = embed_shards(folder, tmp_path / "here.npy", fast_embedder)
    remote = embed_shards(folder, tmp_path / "ray.npy", fast_embedder, executor=cluster)
    assert remote.rows == here.rows == len(_frame())
    assert np.load(tmp_path / "ray.npy").tobytes() == np.load(tmp_path / "here.npy").tobytes()
    assert (tmp_path / "ray.npy.json").read_text() == (tmp_path / "here.npy.json").read_text()


def test_a_unit_that_does_not_come_back_is_an_error_not_a_gap():
    class Drops(LocalExecutor):
        def map(self, model, method, units, **kwargs):
            yield from list(super().map(model, method, units, **kwargs))[1:]

    with pytest.raises(RuntimeError, match="no result for 1 of 3 units"):
        run_units(Drops(), "-", "join", ["ab", "cd", "ef"])


# -- the whole analysis -------------------------------------------------------------------------------------

def _files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def _workbook_cells(path: Path) -> dict[str, list[tuple]]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    try:
        return {ws.title: [repr(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    finally:
        wb.close()


def _run_json(path: Path) -> dict:
    def drop_timings(x):
        if isinstance(x, dict):
            return {k: drop_timings(v) for k, v in x.items() if "timing" not in k and k != "seconds"}
        return x

    return drop_timings(json.loads(path.read_text()))


@pytest.fixture(scope="module")
def two_runs(cluster, tmp_path_factory, fast_embedder):
    """``analyze --runs 0`` on the built-in corpus with the shipped models, without and with ``--ray``; each
    run has its own embedding cache (so each embeds), sharing the built model files."""
    from typer.testing import CliRunner

    from stakeholder_nlp.cli import app
    from stakeholder_nlp.embedding.paths import default_cache_dir

    built = default_cache_dir() / fast_embedder.model_id.split("/")[0]
    tmp = tmp_path_factory.mktemp("ray_analyze")
    outs = {}
    for name, extra in (("plain", []), ("ray", ["--ray", "local"])):
        cache = tmp / f"cache_{name}"
        cache.mkdir()
        (cache / built.name).symlink_to(built, target_is_directory=True)
        outs[name] = tmp / name
        res = CliRunner().invoke(app, ["analyze", str(CORPUS), "--out", str(outs[name]), "--runs", "0",
                                       "--cache", str(cache), *extra], env={"RAY_ADDRESS": ""})
        assert res.exit_code == 0, res.output
    return outs["plain"], outs["ray"]


def test_analyze_on_ray_writes_every_file_of_the_single_process_run(two_runs):
    """Byte for byte; the workbook by its cells (its zip stamps the time) and ``run.json`` without timings."""
    plain, ray_out = two_runs
    names = _files(plain)
    assert names == _files(ray_out)
    assert {"quotes.csv", "shifts.csv", "assignment.csv", "report.html", "run.json"} <= set(names)
    for name in names:
        a, b = plain / name, ray_out / name
        if name.endswith(".xlsx"):
            assert _workbook_cells(a) == _workbook_cells(b), name
        elif name == "run.json":
            assert _run_json(a) == _run_json(b), name
        else:
            assert a.read_bytes() == b.read_bytes(), name
