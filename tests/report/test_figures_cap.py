"""The quote map draws at most MAP_MAX_POINTS quotes (evenly spaced in quote-id order), whatever the corpus
size; below the cap it draws every quote."""

from __future__ import annotations

import pytest
from sklearn.decomposition import PCA

import stakeholder_nlp.report.figures as figures
from stakeholder_nlp.report import write_report
from tests.report.test_report import _analysis

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def analysis():
    return _analysis()


def _fitted_rows(monkeypatch, analysis, out) -> list[int]:
    seen, fit = [], PCA.fit_transform

    def spy(self, x, *a, **k):
        seen.append(len(x))
        return fit(self, x, *a, **k)

    monkeypatch.setattr(PCA, "fit_transform", spy)
    write_report(analysis, out)
    assert (out / "figures" / "quote_map.png").exists()
    return seen


def test_the_quote_map_draws_at_most_the_cap(analysis, monkeypatch, tmp_path):
    monkeypatch.setattr(figures, "MAP_MAX_POINTS", 20)
    assert _fitted_rows(monkeypatch, analysis, tmp_path / "a") == [20]


def test_below_the_cap_the_quote_map_draws_every_quote(analysis, monkeypatch, tmp_path):
    assert _fitted_rows(monkeypatch, analysis, tmp_path / "b") == [len(analysis.corpus)]
