"""Corpus: the quote schema, loaders, and the built-in GP-cluster corpus."""

from .ingest import Ingested, ingest
from .io import from_dataframe, load_corpus, read_csv, read_jsonl, read_parquet
from .manifest import Manifest, read_manifest
from .refi_qda import RefiProject, read_qdc, read_qdpx
from .schema import CODES, CONTEXT, QUOTE_ID, SOURCE, SPEAKER, TEXT, WAVE, Corpus, SkippedRow, check_columns

__all__ = [
    "CODES", "CONTEXT", "QUOTE_ID", "SOURCE", "SPEAKER", "TEXT", "WAVE", "Corpus", "SkippedRow", "check_columns",
    "from_dataframe", "load_corpus", "read_csv", "read_jsonl", "read_parquet", "builtin_corpus_path",
    "load_builtin", "Ingested", "ingest", "Manifest", "read_manifest", "RefiProject", "read_qdc", "read_qdpx",
]


def builtin_corpus_path():
    """Path of the shipped ``corpus/gp_clusters/quotes.jsonl`` (in the source checkout)."""
    from pathlib import Path

    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "corpus" / "gp_clusters" / "quotes.jsonl"
        if candidate.exists():
            return candidate
    raise FileNotFoundError("corpus/gp_clusters/quotes.jsonl not found above " + str(here))


def load_builtin(kinds: tuple[str, ...] = ("quotation", "phrase")) -> Corpus:
    """The GP-cluster corpus; ``kinds`` selects standalone quotations and/or quoted phrases."""
    corpus = read_jsonl(builtin_corpus_path())
    return corpus.subset(corpus.quotes["kind"].isin(kinds))
