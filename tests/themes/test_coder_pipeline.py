"""Agreement with the researcher's coding reaches the Analysis, run.json and the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from stakeholder_nlp.corpus import load_corpus
from stakeholder_nlp.embedding import HashingEmbedder
from stakeholder_nlp.themes import parse_codebook
from tests.themes.test_coder import BOOK


def _corpus():
    rows = []
    for w in (2020, 2021):
        for i in range(10):
            s = f"{w}-s{i % 5}"
            rows += [{"text": f"the data are missing in week {i} {w}", "wave": w, "speaker": s, "codes": "Data access",
                      "context": "they complained that no data at all were available"},
                     {"text": f"nurses left out of meeting {i} {w}", "wave": w, "speaker": s,
                      "codes": "MDT" if i % 2 else ""},
                     {"text": f"rainy weather on day {i} {w}", "wave": w, "speaker": s, "codes": "Weather"}]
    return load_corpus(pd.DataFrame(rows))


@pytest.mark.parametrize("learn", [False, True])
def test_analysis_carries_agreement_and_run_json_has_it(tmp_path, learn):
    from stakeholder_nlp.pipeline import analyze
    from stakeholder_nlp.report import write_report
    from stakeholder_nlp.sentiment import VaderScorer

    a = analyze(_corpus(), HashingEmbedder(256), codebook=parse_codebook(BOOK), sentiment=VaderScorer(), runs=0,
                n_boot=50, n_topics=2, learn_from_codes=learn, nonresponse=None)
    assert a.agreement is not None and set(a.agreement["theme_id"]) == {"data", "teams", "weather"}
    assert a.config["codebook_coding"] == ("learned" if learn else "zero-shot")
    assert a.config["codebook_context"] is True
    assert (a.agreement["n_quotes"] == 50).all()  # the 50 coded quotes; the 10 uncoded are not evaluated
    write_report(a, tmp_path / "out")
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert [r["theme_id"] for r in run["agreement"]] == ["data", "teams", "weather"]
    assert (tmp_path / "out" / "agreement.csv").exists()
    assert "Agreement with your coding" in (tmp_path / "out" / "report.html").read_text()


def test_codes_col_without_a_codebook_makes_the_codebook_from_the_codes_and_reports_agreement(tmp_path,
                                                                                              monkeypatch):
    """``--codes-col`` alone: each distinct code becomes a theme (as ``ingest --codebook-out`` does), the file
    is written beside the results, the summary says so, and agreement with the codes is cross-validated."""
    from typer.testing import CliRunner

    import stakeholder_nlp.embedding as embedding
    import stakeholder_nlp.sentiment as sentiment
    from stakeholder_nlp.cli import app
    from stakeholder_nlp.sentiment import VaderScorer
    from stakeholder_nlp.themes import load_codebook
    from stakeholder_nlp.themes.crossval import CROSS_VALIDATED

    monkeypatch.setattr(embedding, "load_embedder", lambda *a, **k: HashingEmbedder(dim=256))
    monkeypatch.setattr(sentiment, "load_scorer", lambda *a, **k: VaderScorer())
    q = _corpus().quotes.rename(columns={"codes": "mycodes"})
    q["mycodes"] = ["; ".join(c) for c in q["mycodes"]]
    q.to_csv(tmp_path / "c.csv", index=False)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["analyze", str(tmp_path / "c.csv"), "--out", str(out), "--codes-col", "mycodes",
                                   "--cache", str(tmp_path / "cache"), "--runs", "0", "--n-boot", "50",
                                   "--n-topics", "2"])
    assert res.exit_code == 0, res.output
    assert "made from the 3 codes in column 'mycodes'" in res.output and "agreement with your coding" in res.output
    book = load_codebook(out / "codebook_from_codes.toml")
    assert [(t.id, t.human_codes) for t in book.themes] == [("data_access", ("Data access",)), ("mdt", ("MDT",)),
                                                           ("weather", ("Weather",))]
    ag = pd.read_csv(out / "agreement.csv")
    assert list(ag["theme_id"]) == ["data_access", "mdt", "weather"] and (ag["n_quotes"] == 50).all()
    assert (ag["evaluation"] == CROSS_VALIDATED).all()
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["codebook"] == str(out / "codebook_from_codes.toml")
    assert run["config"]["codebook_coding"] == "learned"


def test_codebook_from_codes_is_one_theme_per_code_whatever_its_case():
    from stakeholder_nlp.cli import codebook_from_codes
    from stakeholder_nlp.errors import CodebookError

    book, text = codebook_from_codes([["MDT"], ["mdt"], ["Data access", "MDT"], [], ["1st contact"]], column="c")
    assert [(t.id, t.name, t.human_codes) for t in book.themes] == [
        ("c_1st_contact", "1st contact", ("1st contact",)), ("data_access", "Data access", ("Data access",)),
        ("mdt", "MDT", ("MDT", "mdt"))]
    assert text.startswith("# codebook made from the 3 codes in column 'c'")
    with pytest.raises(CodebookError, match="no quote carries a code"):
        codebook_from_codes([[], []], column="c")


@pytest.mark.parametrize("learn", [False, True])
def test_themes_command_codes_with_context_and_learns_from_codes_col(tmp_path, monkeypatch, learn):
    """``themes`` takes the codebook coding path of ``analyze``: context, the codes column, speakers."""
    from typer.testing import CliRunner

    import stakeholder_nlp.embedding as embedding
    import stakeholder_nlp.themes as themes_pkg
    from stakeholder_nlp.cli import app
    from stakeholder_nlp.themes.crossval import CROSS_VALIDATED, ZERO_SHOT

    monkeypatch.setattr(embedding, "load_embedder", lambda *a, **k: HashingEmbedder(dim=256))
    seen = {}
    real = themes_pkg.fit_themes

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(themes_pkg, "fit_themes", spy)
    col = "mycodes" if learn else "codes"  # without --codes-col the 'codes' column gives zero-shot agreement
    q = _corpus().quotes.rename(columns={"codes": col})
    q[col] = ["; ".join(c) for c in q[col]]
    (tmp_path / "book.toml").write_text(BOOK)
    q.to_csv(tmp_path / "c.csv", index=False)
    args = ["themes", str(tmp_path / "c.csv"), "--out", str(tmp_path / "out"), "--codebook", str(tmp_path / "book.toml"),
            "--mode", "deductive", "--cache", str(tmp_path / "cache")]
    res = CliRunner().invoke(app, [*args, "--codes-col", col] if learn else args)
    assert res.exit_code == 0, res.output
    assert seen["context"] is not None and seen["context"].any()  # the corpus's context column is read
    assert seen["learn"] is learn and len(seen["speakers"]) == len(q)
    ag = pd.read_csv(tmp_path / "out" / "agreement.csv")
    assert list(ag["theme_id"]) == ["data", "teams", "weather"] and (ag["n_quotes"] == 50).all()
    assert (ag["evaluation"] == (CROSS_VALIDATED if learn else ZERO_SHOT)).all()
    assert "agreement with your coding" in res.output


class _FakeTunedFitter:
    """Stands in for themes.tuned.TunedFitter: no training, the hashing embedder's vectors; records each fit."""

    calls: list = []

    def __init__(self, codebook, texts, contexts=None, *, steps=200, seed=0, **coder_params):
        self.codebook, self.texts, self.contexts = codebook, list(texts), contexts
        type(self).calls.append({"texts": self.texts, "contexts": contexts, "fits": []})

    def __call__(self, y, coded, groups=None):
        from stakeholder_nlp.themes.coder import ThemeCoder, context_vectors
        from stakeholder_nlp.themes.tuned import FoldFit

        emb = HashingEmbedder(256)
        assert not y[~coded].any()  # codes of quotes left out of this fit never reach it
        type(self).calls[-1]["fits"].append(np.flatnonzero(coded))
        x = emb.encode(self.texts)
        ctx = context_vectors(self.contexts, emb) if self.contexts is not None else None
        coder = ThemeCoder(self.codebook, emb).fit(x, context=ctx, y=y, coded=coded, groups=groups)
        return FoldFit(coder, emb, x, ctx)


def test_analyze_coder_fine_tune_fits_a_tuned_coder_per_fold_and_once_for_the_corpus(monkeypatch):
    """The opt-in fine-tuned coder reaches analyze: it gets the quotes' texts and contexts, every
    cross-validation fold tunes its own coder on the other speakers' coded quotes, and run.json says so."""
    import stakeholder_nlp.themes.tuned as tuned
    from stakeholder_nlp.pipeline import analyze
    from stakeholder_nlp.sentiment import VaderScorer
    from stakeholder_nlp.themes.crossval import CROSS_VALIDATED

    monkeypatch.setattr(tuned, "TunedFitter", _FakeTunedFitter)
    _FakeTunedFitter.calls = []
    corpus = _corpus()
    a = analyze(corpus, HashingEmbedder(256), codebook=parse_codebook(BOOK), sentiment=VaderScorer(), runs=0,
                n_boot=20, n_topics=2, learn_from_codes=True, coder_fine_tune=True, nonresponse=None)
    assert a.config["codebook_coding"] == "learned, fine-tuned encoder" and a.config["coder_fine_tune"] is True
    (call,) = _FakeTunedFitter.calls
    assert call["texts"] == corpus.texts and call["contexts"] == corpus.contexts
    coded = np.array([len(c) > 0 for c in corpus.quotes["codes"]])
    assert len(call["fits"]) == 6  # the final coder on every coded quote, then 5 folds on the others' quotes
    assert set(call["fits"][0]) == set(np.flatnonzero(coded))
    assert all(len(f) < coded.sum() for f in call["fits"][1:])
    assert set(a.agreement["evaluation"]) == {CROSS_VALIDATED}


def test_coder_fine_tune_needs_codes(tmp_path):
    from typer.testing import CliRunner

    from stakeholder_nlp.cli import app
    from stakeholder_nlp.pipeline import analyze

    p = tmp_path / "c.csv"
    p.write_text("text,wave,speaker\na b c,1,s1\nd e f,2,s2\n")
    (tmp_path / "book.toml").write_text(BOOK)
    res = CliRunner().invoke(app, ["analyze", str(p), "--out", str(tmp_path / "out"), "--codebook",
                                   str(tmp_path / "book.toml"), "--coder-fine-tune"])
    assert res.exit_code == 2 and "--coder-fine-tune needs --codes-col" in res.output
    with pytest.raises(ValueError, match="learn_from_codes"):
        analyze(_corpus(), HashingEmbedder(256), codebook=parse_codebook(BOOK), coder_fine_tune=True)
