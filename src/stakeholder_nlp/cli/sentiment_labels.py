"""``stakeholder-nlp sample-to-label``: a stratified sample of quotes for a person to label by sentiment.

The sheet goes back in with ``stakeholder-nlp analyze INPUT --out DIR --sentiment-labels FILE``
(see :mod:`stakeholder_nlp.sentiment.validation`).
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import StakeholderNLPError
from . import CACHE_HELP, _cache, _codebook, _fail, _load, app


def quote_themes(corpus, *, codebook=None, backend: str = "fast", cache: Path | None = None, seed: int = 0):
    """Each quote's primary theme, from the same theme fit ``analyze`` makes (codebook → hybrid)."""
    from ..embedding import EmbeddingCache, embed_texts, load_embedder
    from ..themes import TopicModel, fit_themes

    cache = _cache(cache)
    embedder = load_embedder(backend, cache_dir=cache)
    with EmbeddingCache(cache) as store:
        x = embed_texts(corpus.texts, embedder, cache=store).vectors
    res = fit_themes(corpus.texts, x, codebook=codebook, embedder=embedder, random_state=seed,
                     topic_model=TopicModel(random_state=seed, embedder=embedder))
    m = res.membership
    primary = []
    for i in range(len(m)):
        cols = [c for c in m.columns if m.iloc[i][c]]
        primary.append(cols[0] if cols else "(none)")
    return primary


@app.command("sample-to-label")
def sample_to_label(
    input: Path = typer.Argument(..., help="Corpus file: .jsonl, .csv, .parquet (or analyze's quotes.csv)."),
    out: Path = typer.Option(..., "--out", help="The sheet to write: .xlsx (with instructions) or .csv."),
    n: int = typer.Option(40, "--n", help="How many quotes to draw (stratified by wave x theme)."),
    theme_col: str = typer.Option("primary_theme", help="Column holding each quote's theme; when the input has "
                                                        "none, themes are fitted as analyze fits them."),
    codebook: Path | None = typer.Option(None, help="Codebook TOML for the theme fit (hybrid mode)."),
    seed: int = typer.Option(0, help="Random seed of the draw and the theme fit."),
    text_col: str = typer.Option("text", help="Column holding the quote text."),
    wave_col: str = typer.Option("wave", help="Column holding the wave."),
    speaker_col: str = typer.Option("speaker", help="Column holding the speaker id."),
    id_col: str = typer.Option("quote_id", help="Column holding each quote's id."),
    backend: str = typer.Option("fast", help="Embedding backend for the theme fit."),
    cache: Path | None = typer.Option(None, help=CACHE_HELP),
    force: bool = typer.Option(False, help="Overwrite an existing sheet (it may hold someone's labels)."),
) -> None:
    """Draw quotes stratified by wave and theme into a sheet for a person to label negative/neutral/positive."""
    from ..sentiment.validation import sample_for_labelling, write_label_sheet

    if out.exists() and not force:
        _fail(FileExistsError(f"{out} exists and may hold labels; pass --force to overwrite it"))
    if out.suffix.lower() not in (".xlsx", ".csv"):
        _fail(ValueError(f"--out must end in .xlsx or .csv; got {out.name}"))
    corpus = _load(input, text_col, wave_col, speaker_col, id_col)
    q = corpus.quotes
    if theme_col in q.columns:
        themes = q[theme_col].fillna("(none)").astype(str).tolist()
    else:
        try:
            themes = quote_themes(corpus, codebook=_codebook(codebook), backend=backend, cache=cache, seed=seed)
        except (StakeholderNLPError, ValueError) as exc:
            _fail(exc)
    try:
        sheet = sample_for_labelling(q.assign(theme=themes), n, theme_col="theme", seed=seed)
        write_label_sheet(sheet, out)
    except (ValueError, OSError) as exc:
        _fail(exc)
    cells = sheet.groupby(["wave", "theme"]).size()
    typer.echo(f"wrote {len(sheet)} quotes from {len(cells)} wave x theme cells to {out}; fill the 'label' "
               f"column (negative / neutral / positive), then run: stakeholder-nlp analyze {input} --out DIR "
               f"--sentiment-labels {out}")
