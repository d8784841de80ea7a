"""Helpers of the training scripts' later stages: rows a stage has not seen, and weight averaging."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _load(name: str):
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))  # the soup script imports train_sentiment by name
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _frame(n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"text": [f"t{i}" for i in range(n)],
                         "label3": rng.choice(["negative", "neutral", "positive"], size=n, p=[0.2, 0.3, 0.5])})


def test_goemotions_sample_is_stratified_and_repeatable():
    ts = _load("train_sentiment")
    go = _frame()
    a, b = ts.goemotions_sample(go, 200, 13), ts.goemotions_sample(go, 200, 13)
    assert a.index.equals(b.index)
    share = a["label3"].value_counts(normalize=True)
    expected = go["label3"].value_counts(normalize=True)
    assert np.allclose(share.sort_index(), expected.sort_index(), atol=0.01)
    assert len(ts.goemotions_sample(go, 0, 13)) == len(go)


def test_excluding_an_earlier_stage_sample_leaves_only_unseen_rows():
    ts = _load("train_sentiment")
    go = _frame()
    seen = ts.goemotions_sample(go, 400, 13)
    rest = ts.goemotions_sample(go.drop(index=seen.index), 0, 13)
    assert set(rest.index).isdisjoint(seen.index)
    assert len(rest) + len(seen) == len(go)


def test_average_state_is_the_elementwise_mean(tmp_path):
    torch = pytest.importorskip("torch")
    soup = _load("train_sentiment_soup")
    a = {"w": torch.tensor([1.0, 2.0]), "steps": torch.tensor([3])}
    b = {"w": torch.tensor([3.0, 6.0]), "steps": torch.tensor([5])}
    torch.save({"model": a}, tmp_path / "a.pt")
    torch.save({"model": b}, tmp_path / "b.pt")
    out = soup.average_state([str(tmp_path / "a.pt"), str(tmp_path / "b.pt")])
    assert torch.equal(out["w"], torch.tensor([2.0, 4.0]))
    assert torch.equal(out["steps"], torch.tensor([3]))  # integer buffers are taken from the first
