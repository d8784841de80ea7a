"""Transcripts and REFI-QDA projects in, a :class:`~stakeholder_nlp.corpus.Corpus` of units out.

``ingest(paths, manifest)`` reads each file (:mod:`.formats`, or :mod:`.refi_qda` for ``.qdpx``), splits it
into speaker turns (:mod:`.transcripts`), cuts units (:mod:`.units`, or the project's own coded segments with
``unit="codings"``), and attaches wave, canonical speaker and attributes from the manifest (:mod:`.manifest`)
or, for a project, from its cases and variables (a variable named ``wave`` gives the wave; the others become
attributes; a case linked to a source without speaker markers names its speaker).

Interviewers (manifest ``interviewer``/``role`` or ``drop_speakers``) and, with ``keep_speakers``, everyone
not listed, give no units: their turns stay in the transcript and so appear in the others' ``context``.

Columns of the corpus beyond the schema (``quote_id``, ``text``, ``speaker``, ``wave``, ``source``, ``codes``):

``context``        the neighbouring turns (see :mod:`.units`)
``start``, ``end`` code-point offsets of the unit in its source's text (``source``)
``unit``           turn | paragraph | sentences | codings
``turn``           index of the unit's turn in its source (-1 for a coding outside any turn)
``speaker_label``  the label as written in the file (``speaker`` is the manifest's canonical id)
any attribute      from the manifest or the project's variables

``quote_id`` is ``<source name>:<start>-<end>``. The full texts come back in :attr:`Ingested.sources` so a
REFI-QDA export can write them.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import CorpusFormatError
from .formats import SourceDocument, read_document
from .io import from_records
from .manifest import Manifest, attribute_value, empty_manifest
from .refi_qda import RefiProject, check_zip_package, read_qdpx
from .schema import Corpus
from .transcripts import Transcript, split_turns
from .units import UNITS, segment, turn_context

INGEST_UNITS = (*UNITS, "codings")
EXTRA_COLUMNS = ("context", "start", "end", "unit", "turn", "speaker_label")
#: columns of :attr:`Ingested.counts`
COUNT_COLUMNS = ("speaker", "wave", "units", "turns", "words", "role")


@dataclass(frozen=True, slots=True)
class Ingested:
    """The corpus, the full source texts, units per speaker and wave, what was left out, any REFI projects."""

    corpus: Corpus
    sources: tuple[SourceDocument, ...]
    counts: pd.DataFrame
    notes: tuple[str, ...]
    projects: tuple[RefiProject, ...] = ()


def _canon(name: str | None) -> str:
    return " ".join((name or "").split()).casefold()


def _selection_codes(project: RefiProject | None, source_guid: str | None) -> list[tuple[int, int, tuple[str, ...]]]:
    if project is None or source_guid is None:
        return []
    names = {c.guid: c.name for c in project.codes}
    for s in project.sources:
        if s.guid == source_guid:
            return [(sel.start, sel.end, tuple(names.get(g, g) for g in sel.codes)) for sel in s.selections]
    return []


def _overlapping(codes: list[tuple[int, int, tuple[str, ...]]], start: int, end: int) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for s, e, names in codes:
        if s < end and start < e:
            for n in names:
                out.setdefault(n, None)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Doc:
    document: SourceDocument
    path: str
    project: RefiProject | None = None
    source_guid: str | None = None
    case_name: str | None = None
    case_vars: dict[str, Any] | None = None


def _expand(paths: Iterable[str | Path], notes: list[str]) -> tuple[list[_Doc], list[RefiProject]]:
    docs: list[_Doc] = []
    projects: list[RefiProject] = []
    for raw in paths:
        p = Path(raw)
        if p.suffix.lower() in (".qdpx", ".qde"):
            project = read_qdpx(p)
            projects.append(project)
            notes.extend(f"{p.name}: {s}" for s in project.skipped)
            case_of: dict[str, Any] = {}
            for c in project.cases:
                for g in c.sources:
                    case_of.setdefault(g, c)
            for s in project.sources:
                if s.text is None:
                    continue
                if not s.text.strip():
                    notes.append(f"{p.name}: text source {s.name!r} is empty; no units")
                    continue
                case = case_of.get(s.guid)
                variables = {**(case.variables if case else {}), **s.variables}
                docs.append(_Doc(SourceDocument(s.name, s.text, str(p), "qdpx"), str(p), project, s.guid,
                                 case.name if case else None, variables))
        else:
            if p.suffix.lower() in (".docx", ".odt") and p.is_file() and zipfile.is_zipfile(p):
                check_zip_package(p, f"a {p.suffix.lower()} is a zip package of XML parts")  # before its parser
            docs.append(_Doc(read_document(p), str(p)))
    names: dict[str, int] = {}
    for d in docs:
        names[d.document.name] = names.get(d.document.name, 0) + 1
    dup = sorted(n for n, k in names.items() if k > 1)
    if dup:
        raise CorpusFormatError(f"several inputs share the source name(s) {dup}; rename them so each source "
                                "(and the manifest's file column) is unambiguous")
    return docs, projects


def ingest(paths: Sequence[str | Path], manifest: Manifest | None = None, *, unit: str = "turn",
           drop_speakers: Sequence[str] = (), keep_speakers: Sequence[str] = (), turn_rule: str = "auto",
           turn_pattern: str | None = None, window_words: int = 60, context_chars: int = 300,
           default_wave: Any = None) -> Ingested:
    """Read transcripts and/or ``.qdpx`` projects into units (see the module docstring)."""
    if unit not in INGEST_UNITS:
        raise ValueError(f"unit must be one of {INGEST_UNITS}; got {unit!r}")
    manifest = manifest or empty_manifest()
    notes: list[str] = []
    docs, projects = _expand(paths, notes)
    drop = {_canon(s) for s in drop_speakers}
    keep = {_canon(s) for s in keep_speakers}
    records: list[dict[str, Any]] = []
    counts: dict[tuple[str, Any, str], list[int]] = {}
    missing_wave: list[str] = []
    for d in docs:
        doc = d.document
        transcript: Transcript = split_turns(doc, rule=turn_rule, pattern=turn_pattern)
        vars_ = dict(d.case_vars or {})
        wave = manifest.wave(doc.name, d.path)
        if wave is None:
            wave = next((v for k, v in vars_.items() if k.casefold() == "wave"), None)
        if wave is None:
            wave = default_wave
        if wave is None:
            missing_wave.append(doc.name)
            continue
        wave = attribute_value(wave) if isinstance(wave, str) else wave
        vars_ = {k: v for k, v in vars_.items() if k.casefold() != "wave"}
        unnamed = manifest.file_speaker(doc.name, d.path) or d.case_name or Path(doc.name).stem
        if transcript.rule == "none":
            notes.append(f"{doc.name}: no speaker markers; the whole text is one speaker's ({unnamed!r})")
        elif transcript.header_chars:
            notes.append(f"{doc.name}: {transcript.header_chars} characters before the first turn left out")
        info_cache: dict[str | None, tuple[str, bool, dict[str, Any]]] = {}

        def who(label: str | None, *, _doc=doc, _d=d, _unnamed=unnamed, _cache=info_cache, _vars=vars_):
            if label not in _cache:
                info = manifest.speaker(_doc.name, label, _d.path)
                speaker = info.speaker if label is not None else _unnamed
                if label is None and info.speaker is not None:
                    speaker = info.speaker
                context_only = info.interviewer or _canon(label) in drop or _canon(speaker) in drop
                if keep and _canon(label) not in keep and _canon(speaker) not in keep:
                    context_only = True
                attrs = {**_vars, **{k: attribute_value(v) for k, v in info.attributes.items()}}
                _cache[label] = (speaker, context_only, attrs)
            return _cache[label]

        coded = _selection_codes(d.project, d.source_guid)
        if unit == "codings":
            turn_of = [(t.start, t.end, t.index) for t in transcript.turns]
            if d.project is None:
                raise CorpusFormatError("unit 'codings' needs a REFI-QDA project (.qdpx) input", path=d.path)
            src = next(s for s in d.project.sources if s.guid == d.source_guid)
            names = {c.guid: c.name for c in d.project.codes}
            units = []
            for sel in src.selections:
                idx = next((i for s, e, i in turn_of if s <= sel.start < e), -1)
                label = transcript.turns[idx].speaker if idx >= 0 else None
                ctx = turn_context(transcript, idx, context_chars) if idx >= 0 else ""
                units.append((label, sel.start, sel.end, doc.text[sel.start:sel.end], idx, ctx,
                              tuple(names.get(g, g) for g in sel.codes)))
        else:
            units = [(u.speaker, u.start, u.end, u.text, u.turn, u.context, _overlapping(coded, u.start, u.end))
                     for u in segment(transcript, unit, window_words=window_words, context_chars=context_chars)]
        turns_by: dict[tuple[str, bool], set[int]] = {}
        for t in transcript.turns:
            speaker, context_only, _ = who(t.speaker)
            turns_by.setdefault((speaker, context_only), set()).add(t.index)
        for (speaker, context_only), idx in turns_by.items():
            key = (speaker, wave, "context only" if context_only else "unit")
            counts.setdefault(key, [0, 0, 0])[1] += len(idx)
        for label, start, end, text, turn, ctx, codes in units:
            speaker, context_only, attrs = who(label)
            if context_only or not text.strip():
                continue
            rec = {"quote_id": f"{doc.name}:{start}-{end}", "text": text, "speaker": speaker, "wave": wave,
                   "source": doc.name, "codes": list(codes), "context": ctx, "start": start, "end": end,
                   "unit": unit, "turn": turn, "speaker_label": label}
            rec.update({k: v for k, v in attrs.items() if k not in rec})
            records.append(rec)
            c = counts.setdefault((speaker, wave, "unit"), [0, 0, 0])
            c[0] += 1
            c[2] += len(text.split())
    if missing_wave:
        raise CorpusFormatError(
            f"no wave for {missing_wave}: add a manifest row (file,wave) for each, a project variable "
            "'wave', or a default wave", path=manifest.path, field="wave")
    unknown = [r for r in manifest.rows if r.file != "*" and not any(r.matches_file(d.document.name, d.path)
                                                                      for d in docs)]
    notes.extend(f"manifest line {r.line}: {r.file!r} matches no input" for r in unknown)
    columns = ["quote_id", "text", "speaker", "wave", "source", "codes", *EXTRA_COLUMNS]
    # no units at all (empty sources, everyone context only): an empty corpus the caller can report on
    corpus = from_records(records, path=None, columns=columns) if records else Corpus(pd.DataFrame(columns=columns))
    rows = [{"speaker": s, "wave": w, "units": v[0], "turns": v[1], "words": v[2], "role": role}
            for (s, w, role), v in counts.items()]
    count_df = pd.DataFrame(rows, columns=list(COUNT_COLUMNS))
    if len(count_df):
        count_df = count_df.sort_values(["role", "units", "turns", "speaker"], ascending=[False, False, False, True],
                                        key=lambda s: s.astype(str) if s.dtype == object else s)
        count_df = count_df.reset_index(drop=True)
    return Ingested(corpus, tuple(d.document for d in docs), count_df, tuple(notes), tuple(projects))


def counts_table(counts: pd.DataFrame) -> str:
    """Units per speaker (rows) and wave (columns), plus the context-only speakers' turns."""
    if counts.empty:
        return "no units"
    units = counts[(counts["role"] == "unit") & (counts["units"] > 0)]
    lines = []
    if len(units):
        t = units.pivot_table(index="speaker", columns="wave", values="units", aggfunc="sum", fill_value=0)
        t["total"] = t.sum(axis=1)
        lines.append("units per speaker and wave:\n" + t.sort_values("total", ascending=False).to_string())
    ctx = counts[counts["role"] == "context only"]
    if len(ctx):
        t = ctx.pivot_table(index="speaker", columns="wave", values="turns", aggfunc="sum", fill_value=0)
        lines.append("turns kept only as context (interviewer / dropped):\n" + t.to_string())
    return "\n\n".join(lines)
