"""The ``stakeholder-nlp`` command line: :data:`app` and the helpers its commands share.

One module per command group, each registering its commands on :data:`app` when :mod:`._registry` imports
it (at the end of this file): ``corpus`` (build, summary), ``embed``, ``themes``, ``analyze``, ``stability``,
``ingest``, ``sentiment_labels`` (sample-to-label). Heavy libraries are imported inside each command, so
``stakeholder-nlp --help`` loads none of them.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import CorpusError, StakeholderNLPError

app = typer.Typer(help="Comparative thematic analysis of interview quotes collected in waves.",
                  no_args_is_help=True, add_completion=False)


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

#: the file ``--codes-col`` without ``--codebook`` writes into the output folder
DERIVED_CODEBOOK = "codebook_from_codes.toml"


def _check_coding_options(codebook, codes_col: str | None, coder_fine_tune: bool) -> None:
    """``--coder-fine-tune`` needs ``--codes-col`` (themes and analyze)."""
    if coder_fine_tune and codes_col is None:
        _fail(ValueError("--coder-fine-tune needs --codes-col: it tunes the coder to your coding"))


def codebook_from_codes(codes, *, column: str, path: Path | None = None) -> tuple[object, str]:
    """``--codes-col`` without ``--codebook``: the codebook made from the codes themselves, as
    ``ingest --codebook-out`` makes one from a project's codes (:func:`~..corpus.refi_qda.codebook_toml`):
    one theme per distinct code (codes that differ only in case are one theme), its id from the name, the name
    as description and example, and the code's spellings as ``human_codes`` so that agreement with your
    coding is measured. Returns the codebook and its TOML text (written beside the results, to edit and pass
    back with ``--codebook``). Raises :class:`~..errors.CodebookError` when no quote carries a code."""
    import re
    from collections import Counter

    from ..errors import CodebookError
    from ..themes.codebook import parse_codebook

    counts = Counter(c.strip() for qc in codes for c in qc if c and c.strip())
    if not counts:
        raise CodebookError(f"--codes-col {column}: no quote carries a code, so no codebook can be made from the "
                            "codes; fill the column or give --codebook")
    spellings: dict[str, list[str]] = {}
    for code in sorted(counts, key=lambda c: (c.casefold(), -counts[c], c)):  # most used spelling first
        spellings.setdefault(code.casefold(), []).append(code)

    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") \
            .replace("\t", "\\t") + '"'

    lines = [f"# codebook made from the {len(spellings)} codes in column {column!r}: edit the descriptions and "
             "examples, then pass this file with --codebook", "[codebook]", f"name = {q('codes in ' + column)}", ""]
    used: set[str] = set()
    for names in spellings.values():
        name = names[0]
        base = re.sub(r"[^0-9a-z_]+", "_", name.casefold()).strip("_") or "code"
        if not base[0].isalpha():
            base = "c_" + base
        tid, k = base, 2
        while tid in used:
            tid, k = f"{base}_{k}", k + 1
        used.add(tid)
        lines += ["[[theme]]", f"id = {q(tid)}", f"name = {q(name)}", f"description = {q(name)}",
                  f"examples = [{q(name)}]", f"human_codes = [{', '.join(q(n) for n in names)}]", ""]
    text = "\n".join(lines)
    return parse_codebook(text, path=str(path) if path is not None else None), text


def _derive_codebook(codes, column: str, out: Path):
    """The CLI's :func:`codebook_from_codes`: a codebook error is the command's one ``error:`` line."""
    try:
        return codebook_from_codes(codes, column=column, path=out / DERIVED_CODEBOOK)
    except StakeholderNLPError as exc:  # no codes, or a control character in one
        _fail(exc)


def _derived_notice(book, column: str, path: Path) -> str:
    return (f"codebook: none given, so made from the {len(book.themes)} codes in column {column!r} (each code a "
            f"theme; agreement measured against them); written to {path}: edit its descriptions and examples "
            "and pass it with --codebook")


def _agreement_line(ag) -> str:
    """One line on the codebook coding's agreement with the human codes (``themes.crossval.AGREEMENT_COLUMNS``)."""
    return (f"agreement with your coding ({ag['evaluation'].iloc[0]}): mean kappa {ag['kappa'].mean():.3f} over "
            f"{len(ag)} themes, {int(ag['n_quotes'].iloc[0])} coded quotes")


FINE_TUNE_HELP = ("With --codes-col: fine-tune the coder's encoder (top 2 of 6 layers, SetFit-style) to your coded "
                  "quotes. Off by default: slow. Each fit takes about 3-8 minutes on 2 CPU cores and a run fits "
                  "six (5 cross-validation folds + the final coder), so 20-45 minutes added; on the benchmark it "
                  "gained +0.02 to +0.06 mean kappa per draw over the default learner (docs/benchmarks.md, "
                  "codebook coding).")


def _codebook(path: Path | None):
    from ..themes import load_codebook

    if path is not None and path.suffix.lower() in (".qdc", ".qdpx"):  # REFI-QDA codes as the codebook
        from .ingest import refi_codebook

        return refi_codebook(path)
    try:
        return load_codebook(path) if path else None
    except (StakeholderNLPError, FileNotFoundError) as exc:
        _fail(exc)


def main() -> None:  # pragma: no cover
    app()


# command modules register on ``app``; imported last so they can use the helpers above
from . import _registry  # noqa: E402,F401
