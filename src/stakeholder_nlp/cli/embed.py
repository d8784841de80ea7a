"""``stakeholder-nlp embed``: a file's vectors as ``.npy`` (with its record), through the on-disk cache."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import StakeholderNLPError
from . import CACHE_HELP, _cache, _fail, _load, _preflight, app


@app.command("embed")
def embed(
    input: Path = typer.Argument(..., help="Texts: .csv, .parquet (streamed) or .jsonl, or a folder of .parquet "
                                           "or .csv shards (rows in file-name order)."),
    out: Path = typer.Option(..., "--out", help="Output .npy file: row i is the vector of input row i."),
    backend: str = typer.Option("fast", help="fast (int8) | reference (fp32 sentence-transformers) | "
                                             "onnx-int8 | onnx-fp32 | openvino-int8 | static (distilled token table)."),
    cache: Path | None = typer.Option(None, help=CACHE_HELP),
    text_col: str = typer.Option("text", help="Column holding the text."),
    progress: bool = typer.Option(True, help="Show a progress bar (rows/s and ETA)."),
    ray: str | None = typer.Option(None, "--ray", envvar="RAY_ADDRESS", help="Embed the shards on a Ray "
                                   "cluster (HEAD:6379, ray://HEAD:10001, auto, or 'local'): each worker reads "
                                   "and embeds whole shards, no text travels from here; the cache is not used "
                                   "(docs/cluster.md)."),
    ray_workers: int = typer.Option(2, "--ray-workers", help="With --ray: Ray actors, each holding one copy "
                                    "of the model and reserving one CPU."),
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
            if input.is_dir() or ray:
                from ..embedding.shards import embed_shards
                from .analyze import _executor

                with _executor(ray, ray_workers) as executor:
                    r = embed_shards(input, out, embedder, text_col=text_col, executor=executor, progress=progress)
                where = f"on Ray at {ray}" if ray else "here"
                typer.echo(f"{r.rows} rows -> {out} (shards embedded {where}, {r.seconds:.1f} s)")
            elif input.suffix.lower() in (".jsonl", ".json", ".ndjson"):
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
