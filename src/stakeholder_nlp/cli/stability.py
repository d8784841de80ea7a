"""``stakeholder-nlp stability``: refit the themes over seeds and subsamples, and how stable each one is."""

from __future__ import annotations

from pathlib import Path

import typer

from . import CACHE_HELP, _cache, _codebook, _load, _preflight, app


@app.command("stability")
def stability_cmd(
    input: Path = typer.Argument(..., help="Corpus file: .jsonl, .csv or .parquet."),
    out: Path = typer.Option(..., "--out", help="Output folder (stability_*.csv)."),
    runs: int = typer.Option(10, help="Reruns per kind: N seeds and N subsamples."),
    resample: float = typer.Option(0.8, help="Share of each wave's quotes kept in a subsample."),
    codebook: Path | None = typer.Option(None, help="Codebook TOML (hybrid mode)."),
    seed: int = typer.Option(0, help="Random seed."),
    backend: str = typer.Option("fast", help="Embedding backend: fast | reference | static (a token "
                                             "table distilled from MiniLM: no transformer pass, lower quality; "
                                             "docs/models.md)."),
    cache: Path | None = typer.Option(None, help=CACHE_HELP),
    n_jobs: int | None = typer.Option(None, help="Parallel processes for the reruns (any backend: workers get no "
                                                 "model; default: one per core from 2,000 quotes)."),
    max_quotes: int = typer.Option(2500, help="Above this many quotes, subsamples come from a panel of this "
                                              "many (cost flat in corpus size; see README)."),
    text_col: str = typer.Option("text", help="Column holding the quote text."),
    wave_col: str = typer.Option("wave", help="Column holding the wave."),
    speaker_col: str = typer.Option("speaker", help="Column holding the speaker id."),
) -> None:
    """Refit the themes over seeds and subsamples; report partition, term, theme and finding stability."""
    corpus = _load(input, text_col, wave_col, speaker_col)
    book = _codebook(codebook)
    from ..embedding import EmbeddingCache, embed_texts, load_embedder
    from ..sentiment import load_scorer
    from ..stability import run_stability
    from ..themes import TopicModel, fit_themes

    cache = _cache(cache)
    _preflight(out=out, force=True, cache=cache)
    embedder = load_embedder(backend, cache_dir=cache)
    with EmbeddingCache(cache) as store:
        x = embed_texts(corpus.texts, embedder, cache=store, progress=True).vectors
        scores = load_scorer("default", embedder, cache=store).score(corpus.texts)
    q = corpus.quotes
    ref = fit_themes(corpus.texts, x, codebook=book, embedder=embedder, random_state=seed,
                     topic_model=TopicModel(random_state=seed))
    res = run_stability(corpus.texts, x, q["wave"], q["speaker"], reference=ref, codebook=book, embedder=embedder,
                        sentiment_scores=scores, runs=runs, resample=resample, seed=seed, n_jobs=n_jobs,
                        progress=True, max_quotes=max_quotes, keys=q["quote_id"].tolist())
    from ..report.safety import write_csv

    out.mkdir(parents=True, exist_ok=True)
    write_csv(res.summary, out / "stability_summary.csv")
    write_csv(res.themes, out / "stability_themes.csv")
    write_csv(res.findings, out / "stability_findings.csv")
    write_csv(res.runs, out / "stability_runs.csv", float_format=None)
    pd_cons = q[["quote_id"]].assign(consensus_topic=res.consensus, reference_topic=ref.topic_labels)
    write_csv(pd_cons, out / "consensus_labels.csv", float_format=None)
    typer.echo(res.summary.round(3).to_string(index=False))
    typer.echo(res.findings.round(2).to_string(index=False))
