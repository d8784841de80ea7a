"""Error text that names what is accepted: an unknown corpus suffix lists the loaders actually registered
(generated, so it cannot forget one: it used to omit the .qdpx that analyze reads), and a damaged Word or
OpenDocument file is "not a readable .docx (not a zip package)", not a library's exception name."""

from __future__ import annotations

import zipfile

import pytest
from typer.testing import CliRunner

from stakeholder_nlp.cli import app
from stakeholder_nlp.corpus import load_corpus
from stakeholder_nlp.corpus.formats import SUFFIXES, read_document
from stakeholder_nlp.corpus.io import LOADERS
from stakeholder_nlp.errors import CorpusFormatError

from .test_refi_qda import PROJECT, _qdpx


def test_an_unknown_suffix_lists_every_registered_loader_and_points_transcripts_to_ingest(tmp_path):
    path = tmp_path / "comments.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(CorpusFormatError) as err:
        load_corpus(path)
    message = str(err.value)
    assert message.startswith(f"file {path}: unknown file type '.xlsx'; expected one of .jsonl, .json, .ndjson, "
                              ".csv, .tsv, .parquet, .pq, .qdpx, .qde. Transcripts (.txt, ")
    assert all(suffix in message for suffix in (*LOADERS, *SUFFIXES))
    assert "stakeholder-nlp ingest" in message


def test_every_listed_suffix_is_read_by_load_corpus(tmp_path):
    rows = '{"text": "waiting for the call", "wave": 1}\n'
    for suffix in LOADERS:
        if suffix in (".qdpx", ".qde"):
            path = _qdpx(tmp_path / f"p{suffix}", PROJECT, {"sources/interview.txt": "Ça marche bien."})
            if suffix == ".qde":
                path.write_text(PROJECT, encoding="utf-8")  # a bare project file: no source text to read
        elif suffix in (".parquet", ".pq"):
            import pandas as pd

            path = tmp_path / f"q{suffix}"
            pd.DataFrame({"text": ["waiting for the call"], "wave": [1]}).to_parquet(path)
        elif suffix in (".csv", ".tsv"):
            sep = "\t" if suffix == ".tsv" else ","
            path = tmp_path / f"q{suffix}"
            path.write_text(f"text{sep}wave\nwaiting for the call{sep}1\n")
        else:
            path = tmp_path / f"q{suffix}"
            path.write_text(rows)
        corpus = load_corpus(path)
        assert len(corpus) == (0 if suffix == ".qde" else 1), suffix


def test_analyze_on_an_unknown_suffix_exits_2_with_the_generated_list(tmp_path, monkeypatch):
    monkeypatch.setenv("STAKEHOLDER_NLP_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "comments.xlsx"
    path.write_bytes(b"PK")
    res = CliRunner().invoke(app, ["analyze", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and ".qdpx, .qde" in lines[0] and ".docx" in lines[0]


@pytest.mark.parametrize("suffix", [".docx", ".odt"])
def test_a_damaged_office_file_is_not_a_readable_zip_package(tmp_path, suffix):
    path = tmp_path / f"interview{suffix}"
    path.write_bytes(b"I: hello\nR: this was saved as text and renamed\n")
    with pytest.raises(CorpusFormatError) as err:
        read_document(path)
    assert str(err.value).startswith(f"file {path}: not a readable {suffix} (not a zip package")
    assert "PackageNotFoundError" not in str(err.value) and "BadZipFile" not in str(err.value)


def test_a_zip_that_is_not_a_word_file_names_the_cause(tmp_path):
    path = tmp_path / "interview.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "not a Word document")
    with pytest.raises(CorpusFormatError, match=r"not a readable \.docx \("):
        read_document(path)


def test_ingest_on_a_damaged_docx_exits_2_naming_the_file(tmp_path):
    path = tmp_path / "interview.docx"
    path.write_bytes(b"\x00\x01 truncated")
    res = CliRunner().invoke(app, ["ingest", str(path), "--out", str(tmp_path / "c.jsonl"), "--wave", "1"])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: file {path}: not a readable .docx (not a zip package")
    assert "PackageNotFoundError" not in res.output
