"""``stakeholder-nlp themes``: themes across all waves and/or a codebook's coding, with agreement."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import StakeholderNLPError
from . import (
    CACHE_HELP,
    DERIVED_CODEBOOK,
    FINE_TUNE_HELP,
    _agreement_line,
    _cache,
    _check_coding_options,
    _derive_codebook,
    _derived_notice,
    _fail,
    _load,
    _preflight,
    app,
)


@app.command("themes")
def themes(
    input: Path = typer.Argument(..., help="Corpus file: .jsonl, .csv or .parquet."),
    out: Path = typer.Option(..., "--out", help="Output folder (themes.csv, quote_themes.csv, agreement.csv)."),
    codebook: Path | None = typer.Option(None, help="Codebook TOML: hybrid mode (codebook, then topics)."),
    mode: str | None = typer.Option(None, help="inductive | deductive | hybrid (default: hybrid with a "
                                               "codebook, else inductive)."),
    n_topics: str = typer.Option("auto", help="Number of inductive themes, or 'auto'."),
    backend: str = typer.Option("fast", help="Embedding backend: fast | reference | static (a token "
                                             "table distilled from MiniLM: no transformer pass, lower quality; "
                                             "docs/models.md)."),
    cache: Path | None = typer.Option(None, help=CACHE_HELP),
    seed: int = typer.Option(0, help="Random seed."),
    text_col: str = typer.Option("text", help="Column holding the quote text."),
    wave_col: str = typer.Option("wave", help="Column holding the wave."),
    speaker_col: str = typer.Option("speaker", help="Column holding the speaker id."),
    codes_col: str | None = typer.Option(None, "--codes-col", help="Column of your own codes (as in analyze): "
                                         "the codebook coder learns from the coded quotes and codes the rest; "
                                         "agreement is cross-validated by speaker. Without --codebook, the codes "
                                         "make the codebook (one theme per code; written to "
                                         "codebook_from_codes.toml)."),
    no_context: bool = typer.Option(False, "--no-context", help="Code without the quotes' 'context' column "
                                    "(used by default when the corpus has one)."),
    coder_fine_tune: bool = typer.Option(False, "--coder-fine-tune", help=FINE_TUNE_HELP),
) -> None:
    """Find themes across all waves jointly (topics) and/or apply a codebook; report agreement with human codes."""
    _check_coding_options(codebook, codes_col, coder_fine_tune)
    corpus = _load(input, text_col, wave_col, speaker_col, codes_col=codes_col or "codes")
    from ..embedding import EmbeddingCache, embed_texts, load_embedder
    from ..themes import TopicModel, fit_themes, load_codebook, partition_agreement
    from ..themes.coder import context_vectors

    try:
        book = load_codebook(codebook) if codebook else None
    except (StakeholderNLPError, FileNotFoundError) as exc:
        _fail(exc)
    derived = None
    if book is None and codes_col is not None:  # the codes make the codebook
        book, derived = _derive_codebook(corpus.quotes["codes"], codes_col, out)
    cache = _cache(cache)
    _preflight(out=out, force=True, cache=cache)
    embedder = load_embedder(backend, cache_dir=cache)
    codes = corpus.quotes["codes"].tolist()
    k = n_topics if n_topics == "auto" else int(n_topics)
    with EmbeddingCache(cache) as store:  # the codebook coding of analyze: context, codes, speakers
        vectors = embed_texts(corpus.texts, embedder, cache=store, progress=True).vectors
        ctx = context_vectors(corpus.contexts, embedder, cache=store) if book is not None and not no_context \
            else None
        result = fit_themes(corpus.texts, vectors, codebook=book, mode=mode, embedder=embedder,
                            topic_model=TopicModel(k, random_state=seed, embedder=embedder), random_state=seed,
                            context=ctx, codes=codes if book is not None and any(len(c) for c in codes) else None,
                            speakers=corpus.quotes["speaker"].tolist(), learn=codes_col is not None, cache=store,
                            contexts=corpus.contexts if ctx is not None else None, fine_tune=coder_fine_tune)
    from ..report.safety import write_csv

    out.mkdir(parents=True, exist_ok=True)
    write_csv(result.themes, out / "themes.csv", float_format=None)
    q = corpus.quotes[["quote_id", "speaker", "wave"]].copy()
    q["themes"] = ["; ".join(c for c in result.membership.columns if result.membership.loc[i, c])
                   for i in range(len(q))]
    q["topic"] = result.topic_labels
    write_csv(q, out / "quote_themes.csv", float_format=None)
    if derived is not None:
        (out / DERIVED_CODEBOOK).write_text(derived, encoding="utf-8")
        typer.echo(_derived_notice(book, codes_col, out / DERIVED_CODEBOOK))
    if any(len(c) for c in codes):
        if result.agreement is not None:
            write_csv(result.agreement, out / "agreement.csv", float_format=None)
            typer.echo(_agreement_line(result.agreement))
        pa = partition_agreement(result.topic_labels, codes)
        typer.echo(f"topics vs human codes: ARI {pa['ari']:.3f}, NMI {pa['nmi']:.3f} (n={pa['n']})")
    typer.echo(result.themes[["theme_id", "label", "kind", "n_quotes"]].to_string(index=False))
    typer.echo(f"wrote {out}/themes.csv, quote_themes.csv")
