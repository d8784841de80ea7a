from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "seeds" / "000_34b4ab0115b42951.txt"
CORPUS = ROOT / "corpus" / "gp_clusters" / "quotes.jsonl"
CODEBOOK = ROOT / "corpus" / "gp_clusters" / "codebook.toml"


@pytest.fixture(scope="session")
def gp_corpus():
    from stakeholder_nlp.corpus import read_jsonl

    return read_jsonl(CORPUS)


@pytest.fixture(scope="session")
def reference_embedder():
    from stakeholder_nlp.embedding import load_embedder

    return load_embedder("reference")


@pytest.fixture(scope="session")
def fast_embedder():
    from stakeholder_nlp.embedding import load_embedder

    return load_embedder("fast")
