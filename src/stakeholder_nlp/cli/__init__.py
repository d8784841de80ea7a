"""The ``stakeholder-nlp`` command line. Heavy libraries are imported inside each command.

Commands that belong to one capability live in their own module of this package and register
themselves on :data:`app` (imported at the end of this file).
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import CorpusError, StakeholderNLPError

app = typer.Typer(help="Comparative thematic analysis of interview quotes collected in waves.",
                  no_args_is_help=True, add_completion=False)
corpus_app = typer.Typer(help="Build and inspect corpora.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")

DEFAULT_SOURCE = Path("../shared/seeds/000_34b4ab0115b42951.txt")


def _fail(exc: Exception, code: int = 2) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _load(input: Path, text_col: str, wave_col: str, speaker_col: str, id_col: str = "quote_id",
          on_error: str = "raise", codes_col: str = "codes"):
    from ..corpus import load_corpus

    if input.suffix.lower() in (".qdpx", ".qde"):  # a REFI-QDA project: see cli/ingest.py
        from .ingest import load_refi_corpus

        return load_refi_corpus(input)
    try:
        return load_corpus(input, text_col=text_col, wave_col=wave_col, speaker_col=speaker_col, id_col=id_col,
                           on_error=on_error, codes_col=codes_col)
    except (CorpusError, FileNotFoundError) as exc:
        _fail(exc)


def _preflight(*, out: Path | None = None, force: bool = False, input: Path | None = None,
               cache: Path | None = None, out_file: Path | None = None) -> None:
    """Checks before any work: the output folder (results there need --force; an unfinished run of the same
    input is resumed), the output file's folder and the cache folder must be writable with room to spare.
    The output folder is held until the command ends: a second run on it is refused while this one runs."""
    try:  # typer vendors click from 0.2x: its own context stack
        from typer.main import get_current_context
    except ImportError:  # pragma: no cover - older typer runs on click
        from click import get_current_context

    from ..errors import OutputError
    from ..report.safety import check_output_dir, check_writable_dir, file_sha256, hold_output_dir

    try:
        if out is not None:
            ctx = get_current_context(silent=True)
            if ctx is not None:  # released when the command ends, however it ends
                ctx.with_resource(hold_output_dir(out))
            check_output_dir(out, force, input_sha256=file_sha256(input))
        if out_file is not None:
            if out_file.is_dir():
                raise OutputError(21, f"output {out_file} is a folder; expected a file name such as vectors.npy")
            check_writable_dir(out_file.parent, what="output folder")
        if cache is not None:
            check_writable_dir(cache, what="cache folder")
    except OutputError as exc:
        _fail(exc)


def _cache(path: Path | None) -> Path:
    """``--cache`` or the per-user default (never the working directory)."""
    from ..embedding.paths import default_cache_dir

    return path if path is not None else default_cache_dir()


CACHE_HELP = ("Folder of the embedding cache and built model files (default: the per-user cache folder, or "
              "$STAKEHOLDER_NLP_CACHE).")
def _check_coding_options(codebook, codes_col: str | None, coder_fine_tune: bool) -> None:
    """``--codes-col`` needs ``--codebook``; ``--coder-fine-tune`` needs ``--codes-col`` (themes and analyze)."""
    if codes_col is not None and codebook is None:
        _fail(ValueError("--codes-col needs --codebook: your codes are mapped to its themes by human_codes"))
    if coder_fine_tune and codes_col is None:
        _fail(ValueError("--coder-fine-tune needs --codes-col (and --codebook): it tunes the coder to your coding"))


FINE_TUNE_HELP = ("With --codes-col: fine-tune the coder's encoder (top 2 of 6 layers, SetFit-style) to your coded "
                  "quotes. Off by default: slow. Each fit takes about 3-8 minutes on 2 CPU cores and a run fits "
                  "six (5 cross-validation folds + the final coder), so 20-45 minutes added; on the benchmark it "
                  "gained +0.02 to +0.06 mean kappa per draw over the default learner (README, codebook "
                  "benchmark).")


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


@app.command("embed")
def embed(
    input: Path = typer.Argument(..., help="Texts: .csv, .parquet (streamed) or .jsonl."),
    out: Path = typer.Option(..., "--out", help="Output .npy file: row i is the vector of input row i."),
    backend: str = typer.Option("fast", help="fast (int8) | reference (fp32 sentence-transformers) | "
                                             "onnx-int8 | onnx-fp32 | openvino-int8."),
    cache: Path | None = typer.Option(None, help=CACHE_HELP),
    text_col: str = typer.Option("text", help="Column holding the text."),
    progress: bool = typer.Option(True, help="Show a progress bar (rows/s and ETA)."),
) -> None:
    """Embed every row of a file, with the on-disk cache (a re-run embeds nothing it has seen)."""
    from ..embedding import EmbeddingCache, load_embedder
    from ..embedding.stream import embed_file

    if not input.exists():
        _fail(FileNotFoundError(f"input file {input} does not exist"))
    cache = _cache(cache)
    _preflight(out_file=out, cache=cache)
    try:
        embedder = load_embedder(backend, cache_dir=cache)
        with EmbeddingCache(cache) as store:
            if input.suffix.lower() in (".jsonl", ".json", ".ndjson"):
                import numpy as np

                from ..embedding import embed_texts

                corpus = _load(input, text_col, "wave", "speaker")
                from ..embedding.stream import TextsDigest, save_npy, write_meta

                res = embed_texts(corpus.texts, embedder, cache=store, progress=progress)
                save_npy(out, np.asarray(res.vectors))
                write_meta(out, model_id=embedder.model_id, rows=len(corpus.texts), dim=embedder.dim,
                           texts_sha256=TextsDigest().update(corpus.texts).hexdigest(), source=str(input))
                typer.echo(f"{res.n_texts} rows -> {out} ({res.n_embedded} embedded, {res.n_cached} cached, "
                           f"{res.n_long_split} long texts split)")
            else:
                r = embed_file(input, out, embedder, text_col=text_col, cache=store, progress=progress)
                typer.echo(f"{r.rows} rows -> {out} ({r.n_embedded} embedded, {r.n_cached} cached, "
                           f"{r.seconds:.1f} s)")
    except (StakeholderNLPError, FileNotFoundError) as exc:
        _fail(exc)


@app.command("themes")
def themes(
    input: Path = typer.Argument(..., help="Corpus file: .jsonl, .csv or .parquet."),
    out: Path = typer.Option(..., "--out", help="Output folder (themes.csv, quote_themes.csv, agreement.csv)."),
    codebook: Path | None = typer.Option(None, help="Codebook TOML: hybrid mode (codebook, then topics)."),
    mode: str | None = typer.Option(None, help="inductive | deductive | hybrid (default: hybrid with a "
                                               "codebook, else inductive)."),
    n_topics: str = typer.Option("auto", help="Number of inductive themes, or 'auto'."),
    backend: str = typer.Option("fast", help="Embedding backend: fast | reference."),
    cache: Path | None = typer.Option(None, help=CACHE_HELP),
    seed: int = typer.Option(0, help="Random seed."),
    text_col: str = typer.Option("text", help="Column holding the quote text."),
    wave_col: str = typer.Option("wave", help="Column holding the wave."),
    speaker_col: str = typer.Option("speaker", help="Column holding the speaker id."),
    codes_col: str | None = typer.Option(None, "--codes-col", help="Column of your own codes (as in analyze): "
                                         "the codebook coder learns from the coded quotes and codes the rest; "
                                         "agreement is cross-validated by speaker."),
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
    if any(len(c) for c in codes):
        if result.agreement is not None:
            write_csv(result.agreement, out / "agreement.csv", float_format=None)
            ag = result.agreement
            typer.echo(f"agreement with your coding ({ag['evaluation'].iloc[0]}): mean kappa "
                       f"{ag['kappa'].mean():.3f} over {len(ag)} themes, {int(ag['n_quotes'].iloc[0])} coded quotes")
        pa = partition_agreement(result.topic_labels, codes)
        typer.echo(f"topics vs human codes: ARI {pa['ari']:.3f}, NMI {pa['nmi']:.3f} (n={pa['n']})")
    typer.echo(result.themes[["theme_id", "label", "kind", "n_quotes"]].to_string(index=False))
    typer.echo(f"wrote {out}/themes.csv, quote_themes.csv")


def _codebook(path: Path | None):
    from ..themes import load_codebook

    if path is not None and path.suffix.lower() in (".qdc", ".qdpx"):  # REFI-QDA codes as the codebook
        from .ingest import refi_codebook

        return refi_codebook(path)
    try:
        return load_codebook(path) if path else None
    except (StakeholderNLPError, FileNotFoundError) as exc:
        _fail(exc)


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
    backend: str = typer.Option("fast", help="Embedding backend: fast | reference."),
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
    codes_col: str | None = typer.Option(None, "--codes-col", help="Column of your own codes (a JSON list or "
                                         "'a; b'; empty = not coded yet), mapped to codebook themes by "
                                         "human_codes: the codebook coder learns from the coded quotes and codes "
                                         "the rest; agreement is cross-validated by speaker."),
    no_context: bool = typer.Option(False, "--no-context", help="Code with the codebook without the quotes' "
                                    "'context' column (used by default when the corpus has one)."),
    coder_fine_tune: bool = typer.Option(False, "--coder-fine-tune", help=FINE_TUNE_HELP),
    embeddings: Path | None = typer.Option(None, "--embeddings", help="Vectors from `stakeholder-nlp embed "
                                           "INPUT --out FILE.npy` (same file, text column and --backend; checked): "
                                           "read as a memory map instead of embedding again."),
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
    with EmbeddingCache(cache) as store:
        try:
            result = analyze(corpus, embedder, embeddings=vectors, codebook=book, cache=store, seed=seed,
                             strata=strata, runs=runs,
                             n_boot=n_boot, n_topics=n_topics if n_topics == "auto" else int(n_topics), progress=True, on_stage=lambda s: typer.echo(f"== {s}", err=True),
                             nonresponse=rules, curation=curation, wave_order=order_given, baseline=baseline,
                             sentiment_labels=labels_df, sentiment_adapt=sentiment_adapt,
                             learn_from_codes=codes_col is not None, use_context=not no_context,
                             coder_fine_tune=coder_fine_tune)
        except (ValueError, FileNotFoundError) as exc:
            _fail(exc)
    try:
        write_report(result, out, input_path=input, force=True, redact=redact)
    except OutputError as exc:  # e.g. the disk filled up while writing: nothing half-written is left
        _fail(exc)
    if qdpx is not None:
        from .ingest import export_qdpx

        export_qdpx(result, input, qdpx, book, redact=redact)
    typer.echo(one_screen_summary(result, out))
    typer.echo(f"total {time.perf_counter() - start:.1f}s")


@app.command("stability")
def stability_cmd(
    input: Path = typer.Argument(..., help="Corpus file: .jsonl, .csv or .parquet."),
    out: Path = typer.Option(..., "--out", help="Output folder (stability_*.csv)."),
    runs: int = typer.Option(10, help="Reruns per kind: N seeds and N subsamples."),
    resample: float = typer.Option(0.8, help="Share of each wave's quotes kept in a subsample."),
    codebook: Path | None = typer.Option(None, help="Codebook TOML (hybrid mode)."),
    seed: int = typer.Option(0, help="Random seed."),
    backend: str = typer.Option("fast", help="Embedding backend: fast | reference."),
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
                        progress=True, max_quotes=max_quotes)
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


def main() -> None:  # pragma: no cover
    app()


# command modules register on ``app``; imported last so they can use the helpers above
from . import _registry  # noqa: E402,F401

