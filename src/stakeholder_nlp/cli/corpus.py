"""``stakeholder-nlp corpus build`` and ``corpus summary``: the built-in corpus and a corpus's counts."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import StakeholderNLPError
from . import _fail, _load, app

corpus_app = typer.Typer(help="Build and inspect corpora.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")

DEFAULT_SOURCE = Path("../shared/seeds/000_34b4ab0115b42951.txt")


@corpus_app.command("build")
def corpus_build(
    source: Path = typer.Option(DEFAULT_SOURCE, help="The GP-cluster source document (text extraction)."),
    out: Path = typer.Option(Path("corpus/gp_clusters/quotes.jsonl"), help="Where to write the JSONL corpus."),
) -> None:
    """Regenerate the built-in GP-cluster corpus from the source document (byte-for-byte reproducible)."""
    from ..corpus.gp_clusters import build_corpus_file, source_sha256

    try:
        records = build_corpus_file(source, out)
    except (StakeholderNLPError, FileNotFoundError) as exc:
        _fail(exc)
    typer.echo(f"wrote {len(records)} quotes to {out} (source sha256 {source_sha256(source)[:16]}...)")


@corpus_app.command("summary")
def corpus_summary(
    input: Path = typer.Argument(..., help="Corpus file: .jsonl, .csv or .parquet."),
    text_col: str = typer.Option("text", help="Column holding the quote text."),
    wave_col: str = typer.Option("wave", help="Column holding the wave."),
    speaker_col: str = typer.Option("speaker", help="Column holding the speaker id."),
) -> None:
    """Print counts per wave, speaker and code."""
    corpus = _load(input, text_col, wave_col, speaker_col)
    typer.echo(summary_table(corpus))


def summary_table(corpus) -> str:
    import pandas as pd

    from ..corpus.waves import infer_wave_order, strata_wave_table

    q = corpus.quotes
    order = infer_wave_order(q["wave"])
    lines = [f"{len(q)} quotes, {q['speaker'].nunique()} speakers, waves {corpus.waves}", order.describe()]
    by_wave = q.groupby("wave").agg(quotes=("text", "size"), speakers=("speaker", "nunique"),
                                    mean_words=("text", lambda s: s.str.split().str.len().mean()))
    lines.append(by_wave.reindex(list(order.levels)).round(1).to_string())
    for col in corpus.metadata_columns:  # composition: who took part in each wave, per stratum
        table = strata_wave_table(q, col, order)
        if table is not None:
            lines.append(f"speakers (quotes) by {col} and wave\n" + table.to_string())
    codes = q.explode("codes").dropna(subset=["codes"])
    if len(codes):
        lines.append(pd.crosstab(codes["codes"], codes["wave"]).reindex(
            columns=[w for w in order.levels if w in set(codes["wave"])]).to_string())
    if corpus.skipped:
        lines.append(f"{len(corpus.skipped)} rows skipped on request")
    lines.extend(f"warning: {w}" for w in getattr(corpus, "warnings", ()))
    return "\n\n".join(lines)
