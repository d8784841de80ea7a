"""``stakeholder-nlp ingest``: transcripts and REFI-QDA projects into a corpus JSONL of units."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..errors import StakeholderNLPError
from . import _fail, app


def sources_path(corpus_path: Path) -> Path:
    """The sidecar holding the full source texts of an ingested corpus (``corpus.sources.jsonl``)."""
    return corpus_path.with_suffix(".sources.jsonl")


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, tuple | set):
        return list(value)
    return str(value)


def write_ingested(result, out: Path) -> Path:
    """Write the corpus (one JSON object per unit), ``OUT.counts.csv`` (units and turns per speaker and wave)
    and the sources sidecar; return the sidecar's path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    q = result.corpus.quotes
    with out.open("w", encoding="utf-8", newline="\n") as f:
        for rec in q.to_dict(orient="records"):
            rec["codes"] = list(rec.get("codes") or ())
            rec = {k: v for k, v in rec.items() if not (isinstance(v, float) and v != v)}
            f.write(json.dumps(rec, ensure_ascii=False, default=_json_default) + "\n")
    result.counts.to_csv(out.with_suffix(".counts.csv"), index=False)
    side = sources_path(out)
    with side.open("w", encoding="utf-8", newline="\n") as f:
        for doc in result.sources:
            f.write(json.dumps({"source": doc.name, "path": doc.path, "format": doc.format, "text": doc.text},
                               ensure_ascii=False) + "\n")
    return side


def read_sources(corpus_path: Path) -> dict[str, str] | None:
    """Full source texts written beside a corpus by ``ingest`` (None when there is no sidecar)."""
    side = sources_path(corpus_path)
    if not side.exists():
        return None
    out = {}
    for line in side.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            out[rec["source"]] = rec["text"]
    return out


@app.command("ingest")
def ingest_cmd(
    files: list[Path] = typer.Argument(..., help="Transcripts (.txt .md .rst .docx .odt .vtt .srt) and/or "
                                                 "REFI-QDA projects (.qdpx)."),
    out: Path = typer.Option(..., "--out", help="Corpus JSONL to write (plus OUT.counts.csv, and "
                                                "OUT.sources.jsonl with the full texts for --qdpx export)."),
    manifest: Path | None = typer.Option(None, help="CSV: file, wave[, speaker, speaker_id, interviewer, "
                                                    "attributes...]. See the README."),
    unit: str = typer.Option("turn", help="turn | paragraph | sentences | codings (a project's coded segments)."),
    drop_speakers: list[str] = typer.Option([], help="Speaker(s) whose turns are context only (interviewer); "
                                                     "repeatable."),
    keep_speakers: list[str] = typer.Option([], help="Only these speaker(s) give units; everyone else is "
                                                     "context. Repeatable."),
    turn_rule: str = typer.Option("auto", help="auto | colon | bracket | bold | timestamped."),
    turn_pattern: str | None = typer.Option(None, help="Custom marker regex with a (?P<speaker>...) group, "
                                                       "matched at the start of a paragraph."),
    window_words: int = typer.Option(60, help="Maximum words of a sentence window (--unit sentences)."),
    context_chars: int = typer.Option(300, help="Characters of each neighbouring turn kept as context."),
    wave: str | None = typer.Option(None, help="Wave for files the manifest does not name."),
    codebook_out: Path | None = typer.Option(None, help="Write the project's codes as a codebook TOML "
                                                        "(usable with analyze --codebook)."),
) -> None:
    """Split transcripts into speaker turns and units with offsets, speaker, wave, attributes and context."""
    from ..corpus.ingest import counts_table, ingest
    from ..corpus.manifest import read_manifest
    from ..corpus.refi_qda import codebook_toml

    try:
        m = read_manifest(manifest) if manifest else None
        result = ingest(files, m, unit=unit, drop_speakers=drop_speakers, keep_speakers=keep_speakers,
                        turn_rule=turn_rule, turn_pattern=turn_pattern, window_words=window_words,
                        context_chars=context_chars, default_wave=wave)
    except (StakeholderNLPError, FileNotFoundError, ValueError) as exc:
        _fail(exc)
    if len(result.corpus) == 0:
        _fail(ValueError("no units: every speaker is context only, or the files hold no text; check "
                         "--keep-speakers / --drop-speakers and the manifest"))
    side = write_ingested(result, out)
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(counts_table(result.counts))
    if codebook_out is not None:
        coded = [p for p in result.projects if p.codes]
        if not coded:
            _fail(ValueError("--codebook-out needs a .qdpx input with codes"))
        codebook_out.write_text(codebook_toml(coded[0]), encoding="utf-8")
        typer.echo(f"wrote codebook {codebook_out} ({len(coded[0].codes)} codes)")
    q = result.corpus.quotes
    typer.echo(f"wrote {len(q)} units ({unit}) from {len(result.sources)} sources, {q['speaker'].nunique()} "
               f"speakers, waves {result.corpus.waves} to {out} (full texts in {side})")


REFI_SUFFIXES = (".qdpx", ".qde")


def load_refi_corpus(path: Path):
    """A ``.qdpx`` given to ``analyze``: its text sources as speaker-turn units (waves from a ``wave`` variable)."""
    from ..corpus.ingest import ingest

    try:
        result = ingest([path], unit="turn")
    except (StakeholderNLPError, FileNotFoundError) as exc:
        _fail(exc)
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    return result.corpus


def refi_codebook(path: Path):
    """A ``.qdc`` or ``.qdpx`` codebook given to ``--codebook``: its codes as themes (see ``codebook_toml``)."""
    from ..corpus.refi_qda import codebook_toml, read_refi
    from ..themes.codebook import parse_codebook

    try:
        return parse_codebook(codebook_toml(read_refi(path)), path=str(path))
    except (StakeholderNLPError, FileNotFoundError) as exc:
        _fail(exc)


def export_qdpx(result, input: Path, target: Path, codebook=None, *, redact: bool = False) -> None:
    """``analyze --qdpx``: write the analysis as a REFI-QDA project, with the input's source texts.

    ``--redact`` does not reach the project: codings point at offsets of the original texts, so the sources
    are written as they are; the command says so.
    """
    if redact:
        typer.secho(f"warning: --redact does not apply to {target}: a REFI-QDA project holds the original "
                    "source texts (the codings' offsets refer to them); do not share it as a redacted file",
                    fg=typer.colors.YELLOW, err=True)
    from ..corpus.refi_qda import read_qdpx
    from ..report.qdpx import export_analysis

    base, sources = None, None
    if input.suffix.lower() in REFI_SUFFIXES:
        base = read_qdpx(input)
    else:
        sources = read_sources(input)
        side = sources_path(input)
        if side.exists():  # an ingested project: keep its codes and codings too
            for line in side.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line) if line.strip() else {}
                if rec.get("format") == "qdpx" and rec.get("path") and Path(rec["path"]).exists():
                    base = read_qdpx(rec["path"])
                    break
    try:
        summary = export_analysis(result, target, sources=sources, base=base, codebook=codebook)
    except (StakeholderNLPError, OSError) as exc:
        _fail(exc)
    for note in summary.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"wrote {target}: {summary.sources} sources, {summary.codes} codes, {summary.codings} codings on "
               f"{summary.selections} selections, {summary.cases} cases (validated against the REFI-QDA schema)")
