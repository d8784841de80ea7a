"""``stakeholder-nlp analyze``: the whole analysis (:func:`stakeholder_nlp.pipeline.analyze`) and its report."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from ..errors import CorpusError, StakeholderNLPError
from . import (
    CACHE_HELP,
    DERIVED_CODEBOOK,
    FINE_TUNE_HELP,
    _agreement_line,
    _cache,
    _check_coding_options,
    _codebook,
    _derive_codebook,
    _derived_notice,
    _fail,
    _load,
    _preflight,
    app,
)


@app.command("analyze")
def analyze_cmd(
    input: Path = typer.Argument(..., help="Corpus file: .jsonl, .csv, .parquet, or a REFI-QDA .qdpx."),
    out: Path = typer.Option(..., "--out", help="Output folder (see README for its files)."),
    codebook: Path | None = typer.Option(None, help="Codebook TOML (hybrid mode: codebook, then topics)."),
    text_col: str = typer.Option("text", help="Column holding the quote text."),
    wave_col: str = typer.Option("wave", help="Column holding the wave."),
    speaker_col: str = typer.Option("speaker", help="Column holding the speaker id."),
    strata: list[str] = typer.Option([], help="Metadata column(s) to adjust shifts for (repeatable)."),
    seed: int = typer.Option(0, help="Random seed (same input + seed = identical CSVs)."),
    backend: str = typer.Option("fast", help="Embedding backend: fast | reference | static (a token "
                                             "table distilled from MiniLM: no transformer pass, lower quality; "
                                             "docs/models.md)."),
    cache: Path | None = typer.Option(None, help=CACHE_HELP + " An interrupted run resumes from it."),
    runs: int = typer.Option(5, help="Stability reruns per kind (seeds and subsamples); 0 skips."),
    n_boot: int = typer.Option(2000, help="Bootstrap replicates."),
    n_topics: str = typer.Option("auto", help="Number of inductive themes, or 'auto' (chosen by stability)."),
    redact: bool = typer.Option(False, help="Replace person names (spaCy NER) with [name] in all outputs."),
    force: bool = typer.Option(False, help="Overwrite a non-empty output folder."),
    kinds: str = typer.Option("quotation,phrase", help="For corpora with a 'kind' column: which kinds to keep."),
    qdpx: Path | None = typer.Option(None, "--qdpx", help="Also write the analysis as a REFI-QDA project "
                                                          "(.qdpx) for NVivo, ATLAS.ti, MAXQDA, QualCoder."),
    id_col: str = typer.Option("quote_id", help="Column holding each quote's id (made up as q00001... if absent)."),
    skip_bad_rows: bool = typer.Option(False, help="Leave out rows that fail validation (empty text, missing "
                                                   "wave, ...) instead of stopping; all are listed in bad_rows.csv."),
    themes_file: Path | None = typer.Option(None, "--themes", help="Edited themes.toml from an earlier run: "
                                            "rename/merge/drop/promote themes and recompute the statistics "
                                            "without refitting (stability reruns are skipped)."),
    min_words: int = typer.Option(1, help="Set aside answers with fewer words (non-responses such as 'N/A', "
                                          "'Nothing.' are always set aside; see set_aside.csv)."),
    keep_nonresponses: bool = typer.Option(False, help="Analyse non-responses like any other answer."),
    wave_order: str | None = typer.Option(None, "--wave-order", help="The waves in order, comma-separated "
                                          "(e.g. pre,post,followup). Default: numeric/date order, else the order "
                                          "of first appearance in the file (stated in the summary)."),
    baseline: str | None = typer.Option(None, "--baseline", help="The wave every comparison starts from "
                                        "(moved to the front of the order)."),
    sentiment_labels: Path | None = typer.Option(None, "--sentiment-labels", help="A sheet from sample-to-label "
                                                 "with a person's labels: agreement goes into the report."),
    sentiment_adapt: bool = typer.Option(False, "--sentiment-adapt", help="With --sentiment-labels: adapt the "
                                         "sentiment scorer to the labels (agreement by cross-validation)."),
    sentiment_scorer: str = typer.Option("auto", "--sentiment-scorer", help="auto | minilm-sentiment | "
                                         "embedding-head | vader. auto: the fine-tuned minilm-sentiment, and "
                                         "from 100,000 quotes the embedding head on the vectors already made "
                                         "(no second encoder pass; lower macro-F1, docs/models.md). Naming "
                                         "one runs it at any size."),
    codes_col: str | None = typer.Option(None, "--codes-col", help="Column of your own codes (a JSON list or "
                                         "'a; b'; empty = not coded yet), mapped to codebook themes by "
                                         "human_codes: the codebook coder learns from the coded quotes and codes "
                                         "the rest; agreement is cross-validated by speaker. Without --codebook, "
                                         "the codes make the codebook (one theme per code; written to "
                                         "OUT/codebook_from_codes.toml)."),
    no_context: bool = typer.Option(False, "--no-context", help="Code with the codebook without the quotes' "
                                    "'context' column (used by default when the corpus has one)."),
    coder_fine_tune: bool = typer.Option(False, "--coder-fine-tune", help=FINE_TUNE_HELP),
    embeddings: Path | None = typer.Option(None, "--embeddings", help="Vectors from `stakeholder-nlp embed "
                                           "INPUT --out FILE.npy` (same file, text column and --backend; checked): "
                                           "read as a memory map instead of embedding again."),
    ray: str | None = typer.Option(None, "--ray", envvar="RAY_ADDRESS", help="Run the model passes "
                                   "(embedding, the sentiment model, assigning quotes to themes) on a Ray "
                                   "cluster: its address (HEAD:6379, ray://HEAD:10001, auto), or 'local' for "
                                   "a Ray instance on this machine. The outputs are those of a run without "
                                   "it; the rest runs here (docs/cluster.md)."),
    ray_workers: int = typer.Option(2, "--ray-workers", help="With --ray: Ray actors per model pass, each "
                                    "holding one copy of the model and one CPU."),
) -> None:
    """Run corpus -> embedding -> themes -> shift -> sentiment -> stability -> report."""
    import time

    from ..errors import OutputError
    from ..report import one_screen_summary, write_report

    _preflight(out=out, force=force, input=input, cache=_cache(cache))
    _check_coding_options(codebook, codes_col, coder_fine_tune)
    corpus = _load(input, text_col, wave_col, speaker_col, id_col, "skip" if skip_bad_rows else "raise",
                   codes_col=codes_col or "codes")
    if corpus.skipped:
        typer.echo(f"{len(corpus.skipped)} bad rows skipped (listed in {out / 'bad_rows.csv'})", err=True)
    if "kind" in corpus.quotes.columns:
        corpus = corpus.subset(corpus.quotes["kind"].isin([k.strip() for k in kinds.split(",")]))
    book = _codebook(codebook)
    derived = None
    if book is None and codes_col is not None:  # the codes make the codebook
        book, derived = _derive_codebook(corpus.quotes["codes"], codes_col, out)
    from ..corpus.nonresponse import NonResponseRules
    from ..themes.curation import load_themes_file

    try:
        rules = None if keep_nonresponses else NonResponseRules(min_words=min_words)
        curation = load_themes_file(themes_file) if themes_file is not None else None
    except (StakeholderNLPError, FileNotFoundError, ValueError) as exc:
        _fail(exc)
    try:
        corpus.require_waves(2)
        from ..corpus.validate import check_analysable

        check_analysable(corpus)  # a clear minimum before any model is loaded (checked again after set-aside)
        from ..corpus.waves import infer_wave_order

        order_given = [w.strip() for w in wave_order.split(",") if w.strip()] if wave_order else None
        infer_wave_order(corpus.quotes["wave"], order_given, baseline)  # a bad --wave-order fails here
    except CorpusError as exc:
        _fail(exc)
    from ..embedding import EmbeddingCache, load_embedder
    from ..pipeline import analyze

    labels_df = None
    if sentiment_labels is not None or sentiment_adapt:
        from ..sentiment.validation import read_labels

        if sentiment_labels is None:
            _fail(ValueError("--sentiment-adapt needs --sentiment-labels FILE (make one with sample-to-label)"))
        try:
            labels_df = read_labels(sentiment_labels)
        except (CorpusError, FileNotFoundError) as exc:
            _fail(exc)
    start = time.perf_counter()
    cache = _cache(cache)
    embedder = load_embedder(backend, cache_dir=cache)
    vectors = None
    if embeddings is not None:
        from ..embedding.stream import load_embeddings

        try:
            vectors = load_embeddings(embeddings, model_id=embedder.model_id, texts=corpus.texts, dim=embedder.dim)
        except (StakeholderNLPError, FileNotFoundError) as exc:
            _fail(exc)
    with EmbeddingCache(cache) as store, _executor(ray, ray_workers) as executor:
        scorer = None
        if sentiment_scorer != "auto":  # asked for by name: run at any corpus size
            from ..sentiment import load_scorer

            try:
                scorer = load_scorer(sentiment_scorer, embedder, cache=store)
            except (StakeholderNLPError, ValueError) as exc:
                _fail(exc)
        try:
            result = analyze(corpus, embedder, embeddings=vectors, codebook=book, cache=store, seed=seed,
                             sentiment=scorer,
                             strata=strata, runs=runs,
                             n_boot=n_boot, n_topics=n_topics if n_topics == "auto" else int(n_topics), progress=True, on_stage=lambda s: typer.echo(f"== {s}", err=True),
                             nonresponse=rules, curation=curation, wave_order=order_given, baseline=baseline,
                             sentiment_labels=labels_df, sentiment_adapt=sentiment_adapt,
                             learn_from_codes=codes_col is not None, use_context=not no_context,
                             coder_fine_tune=coder_fine_tune, executor=executor)
        except (ValueError, FileNotFoundError, OutputError) as exc:  # OutputError: the cache filled up
            _fail(exc)
    try:
        write_report(result, out, input_path=input, force=True, redact=redact)
    except OutputError as exc:  # e.g. the disk filled up while writing: nothing half-written is left
        _fail(exc)
    if qdpx is not None:
        from .ingest import export_qdpx

        export_qdpx(result, input, qdpx, book, redact=redact)
    if derived is not None:
        (out / DERIVED_CODEBOOK).write_text(derived, encoding="utf-8")
    typer.echo(one_screen_summary(result, out))
    if derived is not None:
        typer.echo(_derived_notice(book, codes_col, out / DERIVED_CODEBOOK))
    if result.agreement is not None and len(result.agreement):
        typer.echo(_agreement_line(result.agreement))
    mode_notice = getattr(result.changes, "config", {}).get("mode_notice", "")
    if mode_notice:  # e.g. --backend static: another model than the quote-mode classifier was trained on
        typer.echo(mode_notice, err=True)
    typer.echo(f"total {time.perf_counter() - start:.1f}s")


@contextmanager
def _executor(address: str | None, workers: int) -> Iterator[object | None]:
    """``--ray``: a started :class:`~stakeholder_nlp.embedding.distributed.RayExecutor` (closed after the
    run; a local Ray instance is shut down), else ``None`` (every pass in this process)."""
    if not address:
        yield None
        return
    from ..embedding.distributed import ClusterError, RayExecutor

    executor = RayExecutor(address.strip(), workers=workers)
    try:
        executor.start()
    except (ClusterError, ValueError) as exc:
        _fail(exc)
    try:
        yield executor
    finally:
        executor.close()
