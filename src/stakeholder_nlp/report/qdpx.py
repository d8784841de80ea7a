"""Write a REFI-QDA project (``.qdpx``) that NVivo, ATLAS.ti, MAXQDA and QualCoder can open.

What goes in (:func:`analysis_project`):

- **Sources**: the full text of every source (from ``ingest``'s ``*.sources.jsonl`` or the input ``.qdpx``),
  stored as ``sources/<guid>.txt`` (UTF-8, no BOM, emoji and all). Line endings are written as LF (CRLF and
  lone CR become LF, and every offset moves with them): importers disagree on what a CRLF counts for
  (QualCoder reads the file with universal newlines and pads each line by one character; ATLAS.ti counts
  CRLF as one character), so only LF text gives the same segments in every program. An input without
  source texts (a table of quotes) gets **one text source per speaker**, named ``<speaker>.txt``: that
  speaker's quotes in input order, separated by a blank line.
- **Codes**: codebook themes (with their descriptions) at the top level; emergent (topic) themes under a parent
  code ``Emergent themes`` (not codable itself), described by their terms. Codes and codings of an input
  project are kept as they were. The codes added here get names unique in the whole project (QualCoder
  keeps one code per name, and a coding of a second code with the same name loses its code).
- **Codings**: every unit's themes as ``Coding``s on one ``PlainTextSelection`` per unit, at the unit's
  character offsets (``startPosition``/``endPosition`` count Unicode code points, as the schema defines).
- **Cases and variables**: one case per speaker, linked to the selections of their units; attributes that are
  constant for a speaker (role, site...) become case variables, and ``wave`` becomes a variable of each
  case and of each source where it is constant. A variable name that both cases and sources carry is
  written as two variables, the cases' one named ``<name> (case)`` (QualCoder, like NVivo's case and file
  classifications, gives each attribute name one kind: case or file).
- **Note**: the shift sentences (one per theme) as a project note, stored as ``sources/<guid>.txt``
  (``plainTextPath``: QualCoder imports notes only from a file), with the project's creation time and user.

:func:`write_qdpx` serialises any :class:`~stakeholder_nlp.corpus.refi_qda.RefiProject` and validates
``project.qde`` against the REFI Project schema (QDA-XML 1.0, vendored in ``stakeholder_nlp/data``) with
``xmlschema`` before the archive is moved into place.
"""

from __future__ import annotations

import datetime
import os
import uuid
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from ..corpus.refi_qda import NS, RefiCase, RefiCode, RefiNote, RefiProject, RefiSelection, RefiSource
from ..errors import StakeholderNLPError

SCHEMA_FILE = "refi_qda_project_1_0.xsd"
_GUID_NS = uuid.UUID("6f1c3f8e-6b8b-5c3e-9d1f-2a7f4d0c9b11")
EMERGENT_PARENT = "Emergent themes"
MODE_PARENT = "Quote mode"
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf")
#: how a variable carried by both cases and sources is named on the cases' side
CASE_VARIABLE = "{} (case)"
#: corpus columns that are not attributes of a speaker
NOT_ATTRIBUTES = ("quote_id", "text", "speaker", "wave", "source", "codes", "context", "start", "end", "unit",
                  "turn", "speaker_label", "kind")


class QdpxValidationError(StakeholderNLPError, ValueError):
    """The project XML we built does not validate against the REFI-QDA Project schema."""


def guid(*parts: Any) -> str:
    """A deterministic GUID (same analysis, same GUIDs)."""
    return str(uuid.uuid5(_GUID_NS, "\x1f".join(map(str, parts))))


@dataclass(frozen=True, slots=True)
class ExportSummary:
    path: str
    sources: int
    codes: int
    selections: int
    codings: int
    cases: int
    synthetic_sources: bool
    notes: tuple[str, ...]


def now_stamp() -> str:
    """The current UTC time as an ``xsd:dateTime`` (``2026-12-07T03:04:05Z``)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unique_name(name: str, used: set[str]) -> str:
    out, k = name, 2
    if out in used:
        out = f"{name} (stakeholder-nlp)"
    while out in used:
        out, k = f"{name} (stakeholder-nlp {k})", k + 1
    used.add(out)
    return out


def lf_text(text: str) -> tuple[str, Any]:
    """``text`` with CRLF and lone CR as LF, and the function that moves an offset of ``text`` into it."""
    if "\r" not in text:
        return text, lambda i: i
    import bisect

    removed = [i for i in range(len(text) - 1) if text[i] == "\r" and text[i + 1] == "\n"]  # each CR of a CRLF
    out = text.replace("\r\n", "\n").replace("\r", "\n")
    return out, lambda i: i - bisect.bisect_left(removed, i)


def _var_type(values: list[Any]) -> str:
    vals = [v for v in values if v is not None]
    if vals and all(isinstance(v, bool) for v in vals):
        return "Boolean"
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return "Integer"
    if vals and all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
        return "Float"
    return "Text"


def _plain(v: Any) -> Any:
    if hasattr(v, "item") and not isinstance(v, str | bytes):
        try:
            return v.item()
        except (ValueError, AttributeError):
            return v
    return v


def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def analysis_project(quotes: pd.DataFrame, themes: pd.DataFrame, membership: pd.DataFrame, *,
                     sources: dict[str, str] | None = None, base: RefiProject | None = None,
                     descriptions: dict[str, str] | None = None, shift_sentences: Sequence[str] = (),
                     name: str = "stakeholder-nlp analysis", created: str | None = None,
                     modes: dict[str, str] | None = None, echoes: pd.DataFrame | None = None,
                     change_sentences: Sequence[str] = (),
                     ) -> tuple[RefiProject, tuple[str, ...]]:
    """Build the project (see the module docstring). Returns the project and notes on what was adapted.

    ``created`` (an ``xsd:dateTime``; default now) stamps the project and its notes; the same analysis with
    the same ``created`` gives a byte-identical ``.qdpx``.

    The change records (:mod:`stakeholder_nlp.change`), where given: ``modes`` (quote id -> its mode) become
    codes under :data:`MODE_PARENT`, applied to each quote's selection; ``echoes`` (``echoes.csv``'s rows)
    become REFI ``Link`` elements from the earlier quote's selection to the later one's, named by their kind
    (``echo``, ``came_true``, ``unmet``, ``met``) and similarity; ``change_sentences`` a project note.
    """
    notes: list[str] = []
    descriptions = descriptions or {}
    q = quotes.reset_index(drop=True)
    texts: dict[str, str] = {}
    if base is not None:
        texts.update({s.name: s.text for s in base.sources if s.text is not None})
    if sources:
        texts.update(sources)
    # locate every quote: (source name, start, end)
    loc: list[tuple[str, int, int] | None] = []
    for rec in q.to_dict(orient="records"):
        src, s, e = rec.get("source"), rec.get("start"), rec.get("end")
        ok = (isinstance(src, str) and src in texts and not _missing(s) and not _missing(e))
        if ok:
            s, e = int(s), int(e)
            body = texts[src]
            ok = 0 <= s <= e <= len(body) and body[s:e].strip() == str(rec["text"]).strip()
        loc.append((src, s, e) if ok else None)
    n_missing = sum(x is None for x in loc)
    if n_missing:
        notes.append(f"{n_missing} of {len(q)} quotes have no offsets into a known source text: each speaker's "
                     "quotes were written as one text source per speaker")
        per: dict[str, list[int]] = {}
        for i, x in enumerate(loc):
            if x is None:
                sp = q.at[i, "speaker"]
                per.setdefault("unattributed" if _missing(sp) else str(sp), []).append(i)
        for speaker, idx in per.items():
            sname = f"{speaker}.txt"
            while sname in texts:
                sname = "_" + sname
            parts, pos = [], 0
            for i in idx:
                t = str(q.at[i, "text"])
                if parts:
                    parts.append("\n\n")
                    pos += 2
                parts.append(t)
                loc[i] = (sname, pos, pos + len(t))
                pos += len(t)
            texts[sname] = "".join(parts)
    # codes
    codes: list[RefiCode] = list(base.codes) if base is not None else []
    used_names = {c.name for c in codes}
    theme_guid: dict[str, str] = {}
    emergent = [r for r in themes.to_dict(orient="records") if r.get("kind") != "codebook"]
    book = [r for r in themes.to_dict(orient="records") if r.get("kind") == "codebook"]
    for k, r in enumerate(book):
        g = guid("theme", r["theme_id"])
        theme_guid[r["theme_id"]] = g
        label = str(r.get("label") or r["theme_id"])
        codes.append(RefiCode(g, _unique_name(label, used_names), None, descriptions.get(r["theme_id"], ""),
                              _PALETTE[k % len(_PALETTE)], True))
    if emergent:
        parent = guid("emergent-parent")
        codes.append(RefiCode(parent, _unique_name(EMERGENT_PARENT, used_names), None, "Themes found in the data "
                              "(topic model), not in the codebook.", "#999999", False))
        for k, r in enumerate(emergent):
            g = guid("theme", r["theme_id"])
            theme_guid[r["theme_id"]] = g
            terms = r.get("terms")
            terms = ", ".join(map(str, terms)) if isinstance(terms, list | tuple) and len(terms) else ""
            desc = descriptions.get(r["theme_id"]) or (f"Emergent theme; distinctive terms: {terms}" if terms
                                                        else "Emergent theme")
            codes.append(RefiCode(g, _unique_name(str(r.get("label") or r["theme_id"]), used_names), parent, desc,
                                  _PALETTE[(k + len(book)) % len(_PALETTE)], True))
    mode_guid: dict[str, str] = {}
    used_modes = sorted({m for m in (modes or {}).values() if m})
    if used_modes:
        mparent = guid("mode-parent")
        codes.append(RefiCode(mparent, _unique_name(MODE_PARENT, used_names), None, "What each quote does: "
                              "anticipation (prediction, hope, expected need), experience (what has happened or "
                              "is the case), prescription (a general should or must), other. Assigned by "
                              "stakeholder-nlp's quote-mode classifier.", "#bbbbbb", False))
        for k, m in enumerate(used_modes):
            mode_guid[m] = guid("mode", m)
            codes.append(RefiCode(mode_guid[m], _unique_name(f"mode: {m}", used_names), mparent, "",
                                  _PALETTE[(k + 5) % len(_PALETTE)], True))
    # selections: keep the base project's, add one per unit that carries a theme (or a mode)
    sel_by_source: dict[str, list[RefiSelection]] = {}
    base_sources = {s.name: s for s in base.sources} if base is not None else {}
    for s in base_sources.values():
        sel_by_source[s.name] = list(s.selections)
    cols = [c for c in membership.columns if c in theme_guid]
    m = membership[cols].to_numpy(dtype=bool) if cols else None
    speaker_sel: dict[str, list[str]] = {}
    sel_of_quote: dict[str, str] = {}
    for i, x in enumerate(loc):
        assert x is not None
        on = [theme_guid[cols[j]] for j in range(len(cols)) if m is not None and m[i, j]]
        qid = str(q.at[i, "quote_id"])
        quote_mode = (modes or {}).get(qid)
        if quote_mode in mode_guid:
            on.append(mode_guid[quote_mode])
        if not on:
            continue
        src, s, e = x
        g = guid("selection", qid, src, s, e)
        sel_of_quote[qid] = g
        sel_by_source.setdefault(src, []).append(
            RefiSelection(g, s, e, tuple(on), qid, guid("user", "stakeholder-nlp")))
        sp = q.at[i, "speaker"]
        speaker_sel.setdefault("unattributed" if _missing(sp) else str(sp), []).append(g)
    # variables: wave per source (where constant) and per speaker; constant attributes per speaker
    attrs = [c for c in q.columns if c not in NOT_ATTRIBUTES]
    wave_of_source: dict[str, set] = {}
    for i, x in enumerate(loc):
        wave_of_source.setdefault(x[0], set()).add(_plain(q.at[i, "wave"]))
    out_sources = []
    for sname, body in texts.items():
        if sname not in wave_of_source and sname not in base_sources:
            continue
        b = base_sources.get(sname)
        variables = dict(b.variables) if b is not None else {}
        waves = wave_of_source.get(sname, set())
        if len(waves) == 1:
            variables.setdefault("wave", next(iter(waves)))
        out_sources.append(RefiSource(b.guid if b is not None else guid("source", sname), sname, body,
                                      tuple(sel_by_source.get(sname, ())), None, variables))
    if base is not None:
        dropped = [s.name for s in base.sources if s.text is None]
        if dropped:
            notes.append(f"{len(dropped)} source(s) of the input project had no text and were not written: "
                         f"{dropped[:5]}")
    cases = list(base.cases) if base is not None else []
    q2 = q.assign(_speaker=[("unattributed" if _missing(s) else str(s)) for s in q["speaker"]])
    for speaker, grp in q2.groupby("_speaker", sort=True):
        variables: dict[str, Any] = {}
        waves = sorted({str(_plain(w)) for w in grp["wave"]})
        variables["wave"] = _plain(grp["wave"].iloc[0]) if len(waves) == 1 else "; ".join(waves)
        for a in attrs:
            vals = {repr(_plain(v)) for v in grp[a] if not _missing(v) and not isinstance(v, list | tuple | dict)}
            if len(vals) == 1:
                v = next(v for v in grp[a] if not _missing(v))
                variables[str(a)] = _plain(v)
        cases.append(RefiCase(guid("case", speaker), str(speaker), variables, (),
                              tuple(speaker_sel.get(str(speaker), ()))))
    project_notes = list(base.notes) if base is not None else []
    if len(change_sentences):  # the report's first section, then its statistics
        project_notes.append(RefiNote(guid("note", "changes"), "How themes changed (stakeholder-nlp)",
                                      "\n\n".join(str(s) for s in change_sentences if s)))
    if len(shift_sentences):
        project_notes.append(RefiNote(guid("note", "shifts"), "Shifts between waves (stakeholder-nlp)",
                                      "\n".join(str(s) for s in shift_sentences if s)))
    links = []
    if echoes is not None and len(echoes):
        for r in echoes.itertuples(index=False):
            ga, gb = sel_of_quote.get(str(r.quote_id_a)), sel_of_quote.get(str(r.quote_id_b))
            if ga is None or gb is None:
                continue
            links.append((guid("link", r.theme_id, r.quote_id_a, r.quote_id_b),
                          f"{r.kind} ({float(r.similarity):.2f})", ga, gb))
    users = (*(base.users if base is not None else ()), (guid("user", "stakeholder-nlp"), "stakeholder-nlp"))
    project = RefiProject(base.name if base is not None else name, tuple(codes), tuple(out_sources), tuple(cases),
                          tuple(project_notes), users, "stakeholder-nlp", created=created or now_stamp(),
                          links=tuple(links))
    return project, (*notes,)


# ---------------------------------------------------------------- serialisation


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _sub(parent: ET.Element, tag: str, **attrs: Any) -> ET.Element:
    return ET.SubElement(parent, _q(tag), {k: str(v) for k, v in attrs.items() if v is not None})


def _value_el(parent: ET.Element, var_guid: str, vtype: str, value: Any) -> None:
    vv = _sub(parent, "VariableValue")
    _sub(vv, "VariableRef", targetGUID=var_guid)
    tag = {"Text": "TextValue", "Boolean": "BooleanValue", "Integer": "IntegerValue", "Float": "FloatValue"}[vtype]
    el = _sub(vv, tag)
    el.text = ("true" if value else "false") if vtype == "Boolean" else str(value)


def _variables(project: RefiProject) -> tuple[dict[tuple[str, str], tuple[str, str, str]], list[tuple[str, str, str]]]:
    """``(holder kind, name) -> (guid, written name, type)`` and the Variables to declare, in order.

    A name carried by both cases and sources becomes two variables (the cases' one :data:`CASE_VARIABLE`).
    """
    values: dict[tuple[str, str], list[Any]] = {}
    for kind, holders in (("case", project.cases), ("source", project.sources)):
        for holder in holders:
            for k, v in holder.variables.items():
                values.setdefault((kind, k), []).append(v)
    both = {k for kind, k in values if kind == "case"} & {k for kind, k in values if kind == "source"}
    taken = {k for _, k in values}
    out: dict[tuple[str, str], tuple[str, str, str]] = {}
    for (kind, k), vals in values.items():
        written = k
        if kind == "case" and k in both:
            written = _unique_name(CASE_VARIABLE.format(k), taken)
        g = guid("variable", k) if written == k else guid("variable", kind, k)
        out[(kind, k)] = (g, written, _var_type(vals))
    return out, list(dict.fromkeys(out.values()))


def project_xml(project: RefiProject, *, line_endings: str = "lf") -> tuple[bytes, dict[str, str]]:
    """``project.qde`` bytes and the archive members to write (``sources/<guid>.txt`` -> text).

    ``line_endings="lf"`` (default) writes every source with LF line endings and moves the selections'
    offsets with it (see the module docstring); ``"keep"`` writes the texts exactly as they are.
    """
    if line_endings not in ("lf", "keep"):
        raise ValueError(f"line_endings must be 'lf' or 'keep'; got {line_endings!r}")
    ET.register_namespace("", NS)
    stamp = project.created or now_stamp()
    author = project.users[-1][0] if project.users else None
    root = ET.Element(_q("Project"), {"name": project.name or "project", "origin": project.origin or "stakeholder-nlp",
                                      "creationDateTime": stamp})
    if project.users:
        users = _sub(root, "Users")
        for g, n in project.users:
            _sub(users, "User", guid=g, name=n or None)
    if project.codes:
        book = _sub(root, "CodeBook")
        codes_el = _sub(book, "Codes")
        children: dict[str | None, list[RefiCode]] = {}
        known = {c.guid for c in project.codes}
        for c in project.codes:
            children.setdefault(c.parent if c.parent in known else None, []).append(c)

        def add(parent_el: ET.Element, parent: str | None, seen: set[str]) -> None:
            for c in children.get(parent, []):
                if c.guid in seen:
                    continue
                seen.add(c.guid)
                el = _sub(parent_el, "Code", guid=c.guid, name=c.name, isCodable="true" if c.codable else "false",
                          color=c.color)
                if c.description:
                    _sub(el, "Description").text = c.description
                for g in c.notes:
                    _sub(el, "NoteRef", targetGUID=g)
                add(el, c.guid, seen)

        add(codes_el, None, set())
    variables, declared = _variables(project)
    if declared:
        vars_el = _sub(root, "Variables")
        for g, written, vtype in declared:
            _sub(vars_el, "Variable", guid=g, name=written, typeOfVariable=vtype)
    if project.cases:
        cases_el = _sub(root, "Cases")
        for c in project.cases:
            el = _sub(cases_el, "Case", guid=c.guid, name=c.name)
            if c.description:
                _sub(el, "Description").text = c.description
            for k, v in c.variables.items():
                if v is not None:
                    g, _, vtype = variables[("case", k)]
                    _value_el(el, g, vtype, v)
            for g in c.sources:
                _sub(el, "SourceRef", targetGUID=g)
            for g in c.selections:
                _sub(el, "SelectionRef", targetGUID=g)
    members: dict[str, str] = {}
    written = [s for s in project.sources if s.text is not None]
    if written:
        src_el = _sub(root, "Sources")
        for s in written:
            text, move = lf_text(s.text) if line_endings == "lf" else (s.text, lambda i: i)
            members[f"sources/{s.guid}.txt"] = text
            el = _sub(src_el, "TextSource", guid=s.guid, name=s.name, plainTextPath=f"internal://{s.guid}.txt")
            for sel in s.selections:
                sel_el = _sub(el, "PlainTextSelection", guid=sel.guid, name=sel.name, startPosition=move(sel.start),
                              endPosition=move(sel.end), creatingUser=sel.user)
                for k, code in enumerate(sel.codes):
                    cod = _sub(sel_el, "Coding", guid=guid("coding", sel.guid, code, k), creatingUser=sel.user)
                    _sub(cod, "CodeRef", targetGUID=code)
            for k, v in s.variables.items():
                if v is not None:
                    g, _, vtype = variables[("source", k)]
                    _value_el(el, g, vtype, v)
    if project.notes:
        notes_el = _sub(root, "Notes")
        for n in project.notes:
            # a file, not PlainTextContent: QualCoder imports a note (as a journal) only from its plainTextPath
            members[f"sources/{n.guid}.txt"] = n.text
            _sub(notes_el, "Note", guid=n.guid, name=n.name or None, plainTextPath=f"internal://{n.guid}.txt",
                 creatingUser=author, creationDateTime=stamp)
    if project.links:
        links_el = _sub(root, "Links")
        for g, lname, origin, target in project.links:
            _sub(links_el, "Link", guid=g, name=lname, direction="OneWay", originGUID=origin, targetGUID=target)
    if project.notes:
        for n in project.notes:
            if n.guid in (guid("note", "shifts"), guid("note", "changes")):
                _sub(root, "NoteRef", targetGUID=n.guid)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True), members


def schema_path() -> Path:
    return Path(str(resources.files("stakeholder_nlp") / "data" / SCHEMA_FILE))


def validate_project_xml(xml: bytes) -> list[str]:
    """Schema errors of ``project.qde`` bytes (empty list: valid)."""
    import xmlschema

    schema = xmlschema.XMLSchema(str(schema_path()))
    return [f"{e.path}: {e.reason}" for e in schema.iter_errors(xml.decode("utf-8"))]


def write_qdpx(project: RefiProject, path: str | Path, *, validate: bool = True, line_endings: str = "lf") -> Path:
    """Write ``project`` as a ``.qdpx`` (validated first); the file appears only when complete.

    The archive's member times are the project's ``created`` time, so a project with a fixed ``created``
    writes the same bytes every time.
    """
    path = Path(path)
    if not project.created:
        from dataclasses import replace

        project = replace(project, created=now_stamp())
    xml, members = project_xml(project, line_endings=line_endings)
    if validate:
        errors = validate_project_xml(xml)
        if errors:
            raise QdpxValidationError(f"{path}: project.qde does not validate against the REFI-QDA Project "
                                      f"schema ({len(errors)} errors); first: {errors[0]}")
    when = _zip_time(project.created)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a sibling temp name (not mkstemp: that would leave the file readable by its owner only)
    tmp = str(path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"))
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in (("project.qde", xml), *((n, t.encode("utf-8")) for n, t in members.items())):
                info = zipfile.ZipInfo(name, date_time=when)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _zip_time(stamp: str | None) -> tuple[int, int, int, int, int, int]:
    try:
        t = datetime.datetime.fromisoformat((stamp or "").replace("Z", "+00:00"))
    except ValueError:
        t = datetime.datetime.now(datetime.timezone.utc)
    return (max(t.year, 1980), t.month, t.day, t.hour, t.minute, t.second)


def _shift_sentences(result: Any) -> tuple[list[str], str | None]:
    """The report's one-sentence-per-theme shift summaries (``shifts.csv``'s ``sentence``)."""
    shifts = getattr(result, "shifts", None)
    if isinstance(shifts, pd.DataFrame) and "sentence" in shifts.columns:
        table = shifts
    else:
        from .tables import shift_table

        try:
            table = shift_table(result)
        except Exception as exc:  # the note is optional; say why it is missing rather than fail the export
            return [], f"no shift note: the shift table could not be built ({type(exc).__name__}: {exc})"
    if "sentence" not in table.columns:
        return [], "no shift note: the shift table has no 'sentence' column"
    return [s for s in table["sentence"].tolist() if isinstance(s, str) and s], None


def export_analysis(result: Any, path: str | Path, *, sources: dict[str, str] | None = None,
                    base: RefiProject | None = None, codebook: Any = None,
                    shift_sentences: Sequence[str] | None = None, created: str | None = None) -> ExportSummary:
    """Write an :class:`~stakeholder_nlp.pipeline.Analysis` as a ``.qdpx`` (see the module docstring).

    ``shift_sentences`` default to the report's shift sentences (:func:`.tables.shift_table`); ``created``
    (an ``xsd:dateTime``) to now.
    """
    extra: list[str] = []
    if shift_sentences is None:
        sentences, why = _shift_sentences(result)
        if why:
            extra.append(why)
    else:
        sentences = [s for s in shift_sentences if isinstance(s, str) and s]
    descriptions = {t.id: t.description for t in codebook.themes} if codebook is not None else {}
    ch = getattr(result, "changes", None)
    project, notes = analysis_project(result.corpus.quotes, result.themes.themes, result.themes.membership,
                                      sources=sources, base=base, descriptions=descriptions,
                                      shift_sentences=sentences, created=created,
                                      modes=None if ch is None else dict(zip(ch.quotes["quote_id"].astype(str),
                                                                             ch.quotes["mode"], strict=True)),
                                      echoes=None if ch is None else ch.echoes,
                                      change_sentences=() if ch is None else ch.changes["sentence"].tolist())
    notes = (*notes, *extra)
    out = write_qdpx(project, path)
    n_sel = sum(len(s.selections) for s in project.sources)
    return ExportSummary(str(out), len(project.sources), len(project.codes), n_sel,
                         sum(len(sel.codes) for s in project.sources for sel in s.selections), len(project.cases),
                         any("one text source per speaker" in n for n in notes), notes)


__all__ = ["CASE_VARIABLE", "EMERGENT_PARENT", "MODE_PARENT", "ExportSummary", "QdpxValidationError", "analysis_project",
           "export_analysis", "guid", "lf_text", "now_stamp", "project_xml", "schema_path", "validate_project_xml",
           "write_qdpx"]
