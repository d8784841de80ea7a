"""The ingestion manifest: which wave each file belongs to, who is who, and the attributes that become strata.

A CSV (UTF-8, header line) with these columns:

``file`` (required)
    A file name (matched against the input's name or its path as given), a glob (``*.vtt``), or ``*`` for
    every file. For a REFI-QDA project, the name of a text source inside it, or the project file's name
    (the row then applies to all its sources).
``wave``
    The wave of the file's units (required for every input file, from at least one matching row).
``speaker``
    Optional: the row then applies to this speaker label (as it appears in the file) only. Without it the row
    applies to the whole file; for a file without speaker markers it also names the one speaker.
``speaker_id``
    Optional: the canonical speaker for this label (merges aliases, pseudonymises).
``interviewer``
    Optional: ``yes``/``true``/``1`` marks the speaker as the interviewer: their turns are kept only as
    ``context``, never as units. A ``role`` of ``interviewer`` does the same.
any other column
    An attribute (role, site, organisation...): a metadata column of every unit the row applies to, usable
    as a stratum. Speaker rows override file rows.

Later rows override earlier ones for the same file and speaker. Errors name the manifest's line and column.
"""

from __future__ import annotations

import csv
import fnmatch
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CorpusFormatError
from .formats import decode_text

FILE = "file"
WAVE = "wave"
SPEAKER = "speaker"
SPEAKER_ID = "speaker_id"
INTERVIEWER = "interviewer"
RESERVED = (FILE, WAVE, SPEAKER, SPEAKER_ID, INTERVIEWER)
_TRUE = {"yes", "y", "true", "1", "x"}
_FALSE = {"no", "n", "false", "0", ""}


@dataclass(frozen=True, slots=True)
class ManifestRow:
    line: int
    file: str
    wave: str | None
    speaker: str | None
    speaker_id: str | None
    interviewer: bool | None
    attributes: dict[str, str] = field(default_factory=dict)

    def matches_file(self, name: str, path: str | None = None) -> bool:
        pat = self.file
        if pat == "*" or pat == name or (path is not None and (pat in (path, Path(path).name)
                                                                or Path(pat) == Path(path))):
            return True
        return fnmatch.fnmatchcase(name, pat)


@dataclass(frozen=True, slots=True)
class SpeakerInfo:
    """What the manifest says about one speaker label in one file."""

    speaker: str | None
    interviewer: bool
    attributes: dict[str, str]


@dataclass(frozen=True, slots=True)
class Manifest:
    rows: tuple[ManifestRow, ...]
    path: str | None = None

    def file_rows(self, name: str, path: str | None = None) -> list[ManifestRow]:
        return [r for r in self.rows if r.matches_file(name, path)]

    def wave(self, name: str, path: str | None = None) -> str | None:
        wave = None
        for r in self.file_rows(name, path):
            if r.speaker is None and r.wave is not None:
                wave = r.wave
        return wave

    def file_attributes(self, name: str, path: str | None = None) -> dict[str, str]:
        out: dict[str, str] = {}
        for r in self.file_rows(name, path):
            if r.speaker is None:
                out.update(r.attributes)
        return out

    def file_speaker(self, name: str, path: str | None = None) -> str | None:
        """The speaker a file-level row names (for files without markers)."""
        out = None
        for r in self.file_rows(name, path):
            if r.speaker is None and r.speaker_id:
                out = r.speaker_id
        return out

    def speaker(self, name: str, label: str | None, path: str | None = None) -> SpeakerInfo:
        """Canonical speaker, interviewer flag and attributes of ``label`` in file ``name``."""
        speaker, interviewer, attrs = label, False, self.file_attributes(name, path)
        for r in self.file_rows(name, path):
            if r.speaker is not None and label is not None and r.speaker.casefold() == label.casefold():
                if r.speaker_id:
                    speaker = r.speaker_id
                if r.interviewer is not None:
                    interviewer = r.interviewer
                attrs.update(r.attributes)
        return SpeakerInfo(speaker, interviewer, attrs)

    @property
    def attribute_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.rows:
            for k in r.attributes:
                seen.setdefault(k, None)
        return list(seen)


def _flag(value: str, *, path: str, line: int, col: str) -> bool | None:
    v = value.strip().casefold()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return None if v == "" else False
    raise CorpusFormatError(f"{value!r} is not a yes/no value; use yes or no", path=path, row=line, field=col)


def parse_manifest(text: str, *, path: str = "manifest") -> Manifest:
    """Parse manifest CSV text (see the module docstring)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if FILE not in header:
        raise CorpusFormatError(f"the manifest needs a column {FILE!r} (and {WAVE!r}); found {header}",
                                path=path, row=1, field=FILE)
    reader.fieldnames = header
    rows = []
    for i, rec in enumerate(reader, start=2):
        rec = {k: ("" if v is None else str(v).strip()) for k, v in rec.items() if k is not None}
        if not any(rec.values()):
            continue
        if not rec.get(FILE):
            raise CorpusFormatError("file is empty; name a file, a glob or *", path=path, row=i, field=FILE)
        role = rec.get("role", "")
        interviewer = _flag(rec.get(INTERVIEWER, ""), path=path, line=i, col=INTERVIEWER)
        if role.casefold() == "interviewer" and interviewer is None:
            interviewer = True
        attrs = {k: v for k, v in rec.items() if k not in RESERVED and v != ""}
        rows.append(ManifestRow(i, rec[FILE], rec.get(WAVE) or None, rec.get(SPEAKER) or None,
                                rec.get(SPEAKER_ID) or None, interviewer, attrs))
    return Manifest(tuple(rows), path)


def read_manifest(path: str | Path) -> Manifest:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"manifest {p} does not exist")
    return parse_manifest(decode_text(p.read_bytes(), path=str(p)), path=str(p))


def empty_manifest() -> Manifest:
    return Manifest((), None)


def attribute_value(value: Any) -> Any:
    """Manifest values stay strings, except whole numbers (so a wave ``2023`` sorts as a number)."""
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value
