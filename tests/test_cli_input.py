"""The CLI's answers to bad input and bad places: exit 2 and one ``error:`` line naming the problem (and the
minimum, for tiny corpora), checked before any model is loaded; never a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from stakeholder_nlp.cli import app


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _good(path: Path) -> Path:
    words = "data practice nurse team access time cluster meeting budget patient care support".split()
    return _jsonl(path, [{"text": f"{words[i % 12]} {words[(i * 7) % 12]} words {i}", "wave": 2016 + 5 * (i % 2),
                          "speaker": f"s{i % 5}"} for i in range(24)])


def _fails(args: list[str], *messages: str) -> None:
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    assert "error:" in res.output and "Traceback" not in res.output
    for m in messages:
        assert m in res.output, res.output


def test_a_three_quote_corpus_names_the_minimum(tmp_path):
    p = _jsonl(tmp_path / "q.jsonl", [{"text": f"quote {i}", "wave": 2016 + i % 2, "speaker": "a"} for i in range(3)])
    _fails(["analyze", str(p), "--out", str(tmp_path / "out")], "at least 10 distinct quote texts", "found 3")


def test_thirty_identical_quotes_name_the_minimum(tmp_path):
    p = _jsonl(tmp_path / "q.jsonl", [{"text": "the same words", "wave": 2016 + i % 2, "speaker": f"s{i}"}
                                      for i in range(30)])
    _fails(["analyze", str(p), "--out", str(tmp_path / "out")], "at least 10 distinct quote texts", "found 1")


def test_a_wave_with_too_few_quotes_names_the_minimum(tmp_path):
    rows = [{"text": f"quote number {i}", "wave": 2016, "speaker": f"s{i}"} for i in range(12)]
    rows.append({"text": "late quote", "wave": 2021, "speaker": "x"})
    _fails(["analyze", str(_jsonl(tmp_path / "q.jsonl", rows)), "--out", str(tmp_path / "out")],
           "each wave needs at least 3 quotes", "wave 2021 has 1")


def test_a_folder_named_like_a_corpus(tmp_path):
    (tmp_path / "x.jsonl").mkdir()
    _fails(["analyze", str(tmp_path / "x.jsonl"), "--out", str(tmp_path / "out")], "is a folder")


def test_an_output_that_is_a_file(tmp_path):
    (tmp_path / "out").write_text("x")
    _fails(["analyze", str(_good(tmp_path / "q.jsonl")), "--out", str(tmp_path / "out")], "is a file")
    _fails(["embed", str(_good(tmp_path / "q.jsonl")), "--out", str(tmp_path)], "is a folder")


@contextlib.contextmanager
def _read_only(path: Path):
    """A read-only folder: a read-only tmpfs as root (root ignores permission bits), else chmod 500."""
    path.mkdir(parents=True)
    if os.geteuid() == 0:
        try:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], check=True,
                           capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            pytest.skip("root without mount: cannot make a read-only folder")
        try:
            yield path
        finally:
            subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)
    else:
        path.chmod(0o500)
        try:
            yield path
        finally:
            path.chmod(0o700)


def test_a_read_only_output_folder_fails_before_the_analysis(tmp_path):
    with _read_only(tmp_path / f"ro-{uuid.uuid4().hex[:6]}") as ro:
        _fails(["analyze", str(_good(tmp_path / "q.jsonl")), "--out", str(ro / "out"), "--cache",
                str(tmp_path / "cache")], "cannot be written", "read-only")


def test_a_read_only_cache_fails_before_the_analysis(tmp_path):
    with _read_only(tmp_path / f"ro-{uuid.uuid4().hex[:6]}") as ro:
        _fails(["analyze", str(_good(tmp_path / "q.jsonl")), "--out", str(tmp_path / "out"), "--cache", str(ro)],
               "cache folder", "read-only")
        _fails(["embed", str(_good(tmp_path / "q.jsonl")), "--out", str(tmp_path / "v.npy"), "--cache", str(ro)],
               "cache folder")


def test_summary_states_the_missing_speaker_column(tmp_path):
    p = _jsonl(tmp_path / "q.jsonl", [{"text": f"quote {i}", "wave": 2016 + i % 2} for i in range(4)])
    res = CliRunner().invoke(app, ["corpus", "summary", str(p)])
    assert res.exit_code == 0 and "warning: no speaker column 'speaker'" in res.output


@pytest.mark.slow
def test_the_default_embedder_pickles_for_worker_processes(fast_embedder):
    """``stability --n-jobs 2`` sends the embedder to workers: it pickles as the arguments that rebuild it."""
    clone = pickle.loads(pickle.dumps(fast_embedder))
    texts = ["a short one", "a somewhat longer sentence about data access in general practice"]
    assert clone.model_id == fast_embedder.model_id
    assert np.array_equal(clone.encode(texts), fast_embedder.encode(texts))


def test_the_cache_api_on_a_read_only_folder_is_an_output_error(tmp_path):
    from stakeholder_nlp.embedding import EmbeddingCache
    from stakeholder_nlp.errors import OutputError

    with _read_only(tmp_path / f"ro-{uuid.uuid4().hex[:6]}") as ro, pytest.raises(OutputError, match="--cache"):
        EmbeddingCache(ro / "cache")
