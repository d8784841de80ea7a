"""Safe output: spreadsheet-formula neutralisation, atomic output folders and files, preflight checks.

**Formula cells.** A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
(OWASP "CSV Injection": https://owasp.org/www-community/attacks/CSV_Injection), or with their full-width
forms or a line feed, is read by Excel/LibreOffice as a formula: a quote, speaker or wave label such as
``=HYPERLINK("http://x", "click")`` would become a live link. :func:`neutralise_frame` prefixes such text
cells (and column names) with a single quote ``'``, as OWASP recommends; numbers are left alone (``-0.25``
stays a number). :func:`write_csv` applies it to every CSV, and :func:`strip_formula_cells` makes sure an
``.xlsx`` file holds no formula cell at all (openpyxl stores any string starting with ``=`` as a formula).

**Atomic output folder.** :func:`atomic_output_dir` writes into a temporary folder beside ``OUT``
(``.OUT.partial-<pid>``, holding a marker naming the input's sha256) and renames it into place only when
everything, ``run.json`` last, is written: a killed, failed or disk-full run leaves ``OUT`` as it was (absent,
or the previous complete results), never half-written files. A rerun cleans up what a dead run left
beside ``OUT``; a folder that holds only an unfinished run of the same input is resumed without
``--force``. :func:`atomic_file` does the same for a single file (``embed``'s ``.npy``).

**One run per folder.** :func:`hold_output_dir` takes a lock file beside ``OUT`` (``.OUT.lock``, holding
the holder's pid, host and start time) for as long as a run may write there: a second run on the same
``OUT`` is refused with :class:`OutputLockedError` naming the holder, instead of both finishing and the
one that renames last silently replacing the other's results. The lock is an ``fcntl.flock`` on that
file, so the kernel lets it go when the holder dies (even by kill -9): a lock file left by a dead run is
stale, and the next run takes it over. A process that already holds the lock may take it again.

**Preflight.** :func:`check_output_dir` and :func:`check_writable_dir` say before any work starts that
``OUT`` holds results (pass ``--force``), or that a location is read-only, not a folder, or full.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from ..errors import OutputError

logger = logging.getLogger(__name__)

#: first characters that make a spreadsheet read a cell as a formula (OWASP, plus full-width forms and LF)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: the file that marks a folder as a complete run (written last)
COMPLETION_FILE = "run.json"
#: inside a folder being written: which process writes it, for which input
PARTIAL_MARKER = ".stakeholder_nlp-partial.json"
#: free space a preflight asks for in the output location (results are a few MB)
MIN_FREE_BYTES = 32 * 2**20
_PROBE_BYTES = 256 * 2**10


class OutputExistsError(OutputError, FileExistsError):
    """The output folder already holds results and ``force`` was not given."""


class OutputLockedError(OutputError):
    """Another running process holds the output folder (:func:`hold_output_dir`)."""


# ----------------------------------------------------------------------------------- formula cells
def neutralise_cell(value):
    """``"'" + value`` for text a spreadsheet would read as a formula; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with every formula-like text cell and column name neutralised; numeric columns untouched."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise_cell)
    out.columns = [neutralise_cell(c) for c in out.columns]
    return out


def _unify_line_breaks(value):
    if isinstance(value, str) and "\r" in value:
        return value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def write_csv(df: pd.DataFrame, path: str | Path, *, float_format: str | None = "%.6g",
              block_rows: int = 100_000) -> Path:
    """The one CSV writer for outputs: neutralised cells, ``\\n`` line ends, no index. Line breaks inside
    a cell are written as ``\\n`` (quoted): Python's writer leaves a lone CR unquoted, and every reader
    takes it for the end of a row. Written ``block_rows`` rows at a time (the header with the first), so
    that only one block's neutralised copy is ever held beside ``df``; the bytes are those of one
    ``to_csv`` of the whole frame."""
    path = Path(path)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        for start in range(0, max(len(df), 1), block_rows):
            frame = neutralise_frame(df.iloc[start:start + block_rows])
            for col in frame.columns:
                if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
                    frame[col] = frame[col].map(_unify_line_breaks)
            frame.to_csv(fh, index=False, header=start == 0, float_format=float_format, lineterminator="\n")
    return path


def write_parquet(df: pd.DataFrame, path: str | Path, *, block_rows: int = 100_000) -> Path:
    """``df.to_parquet(path, index=False)`` written a block of ``block_rows`` rows at a time (one row group
    each), so that only one block is ever held as Arrow buffers beside the frame (1,000,000 rows of text
    would otherwise be copied whole). Reads back as ``df`` does from ``to_parquet``. A text column with no
    value in the first block is typed as text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if len(df) <= block_rows:
        df.to_parquet(path, index=False)
        return path
    schema = pa.Schema.from_pandas(df.iloc[:block_rows], preserve_index=False)
    for i, field in enumerate(schema):
        if pa.types.is_null(field.type):  # an object column that is empty in the first block
            schema = schema.set(i, field.with_type(pa.string()))
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, len(df), block_rows):
            writer.write_table(pa.Table.from_pandas(df.iloc[start:start + block_rows], schema=schema,
                                                    preserve_index=False))
    return path


_FORMULA_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")


def _has_formula_element(path: Path) -> bool:
    """Whether any worksheet of the ``.xlsx`` holds an ``<f>`` (formula) element: the only way a cell reads
    back as a formula (openpyxl's reader sets ``data_type == "f"`` from it; text in a cell is XML-escaped,
    so a quote cannot forge the tag)."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return any(_FORMULA_ELEMENT.search(zf.read(name)) for name in zf.namelist()
                   if name.startswith("xl/worksheets/") and name.endswith(".xml"))


def strip_formula_cells(path: str | Path) -> int:
    """Turn every formula cell of an ``.xlsx`` file into a text cell (re-saving the file only if one was
    found); returns how many there were. Use after writing a workbook from data."""
    from openpyxl import load_workbook

    path = Path(path)
    if not _has_formula_element(path):  # the common case, decided without parsing every cell (seconds at 10k rows)
        return 0
    wb = load_workbook(path)
    n = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    value = str(cell.value)
                    cell.value = neutralise_cell(value)
                    cell.data_type = "s"
                    n += 1
    if n:
        with atomic_file(path) as tmp:
            wb.save(tmp)
    return n


# ----------------------------------------------------------------------------------- preflight
def _os_error(exc: OSError, what: str, where: Path) -> OutputError:
    if exc.errno == errno.ENOSPC:
        hint = "the disk is full; free space or choose another location"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = "it is read-only or not writable by you; choose another location"
    elif exc.errno in (errno.ENOTDIR, errno.EEXIST):
        hint = "a file stands where a folder is needed"
    else:
        hint = exc.strerror or str(exc)
    return OutputError(exc.errno or errno.EIO, f"{what} {where} cannot be written: {hint}")


def check_writable_dir(folder: str | Path, *, what: str = "folder", min_free: int = MIN_FREE_BYTES) -> Path:
    """Create ``folder`` if needed and prove it writable (a probe file, written and removed); raise
    :class:`OutputError` naming it if it is read-only, not a folder, or has less than ``min_free`` bytes."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(errno.ENOTDIR, f"{what} {folder} is a file; expected a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-", delete=True) as fh:
            fh.write(b"\0" * _PROBE_BYTES)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise _os_error(exc, what, folder) from None
    free = shutil.disk_usage(folder).free
    if free < min_free:
        raise OutputError(errno.ENOSPC, f"{what} {folder} has {free / 2**20:.1f} MiB free; at least "
                                        f"{min_free / 2**20:.0f} MiB are needed. Free space or choose another location")
    return folder


def file_sha256(path: str | Path | None) -> str | None:
    if path is None or not Path(path).is_file():
        return None
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_marker(folder: Path) -> dict:
    try:
        return json.loads((folder / PARTIAL_MARKER).read_text())
    except (OSError, ValueError):
        return {}


def _pid_alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _siblings(out: Path, kind: str) -> list[Path]:
    if not out.parent.is_dir():
        return []
    return sorted(out.parent.glob(f".{out.name}.{kind}-*"))


def recover(out: Path) -> None:
    """Clean up what a dead run left beside ``out``: partial folders are removed; a previous result set
    moved aside for a ``--force`` swap is put back if the new one never arrived."""
    for old in _siblings(out, "old"):
        marker = _read_marker(old)
        if _pid_alive(marker.get("pid")):
            continue
        if marker.get("mode") == "entries":  # killed while swapping entries (OUT could not be renamed)
            if not ((out / COMPLETION_FILE).exists() and (old / COMPLETION_FILE).exists()):
                _move_back(old, out)  # else the new results were all in place: the old ones can go
        elif not out.exists() and (old / COMPLETION_FILE).exists():
            _move_back(old, out)
        shutil.rmtree(old, ignore_errors=True)
    for partial in _siblings(out, "partial"):
        if not _pid_alive(_read_marker(partial).get("pid")):
            shutil.rmtree(partial, ignore_errors=True)


def is_unfinished_run_of(folder: Path, input_sha256: str | None) -> bool:
    """True if ``folder`` holds only an unfinished run (a partial marker, no ``run.json``) of this input."""
    marker = _read_marker(folder)
    return (bool(marker) and input_sha256 is not None and marker.get("input_sha256") == input_sha256
            and not (folder / COMPLETION_FILE).exists() and not _pid_alive(marker.get("pid")))


def check_output_dir(out: str | Path, force: bool, *, input_sha256: str | None = None) -> Path:
    """Preflight for an output folder: clean up after dead runs, refuse a folder with results unless
    ``force`` (an unfinished run of the same input is resumed), and prove the location writable."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(errno.ENOTDIR, f"output {out} is a file; expected a folder (or a new name)")
    recover(out)
    if out.is_dir() and any(out.iterdir()) and not force and not is_unfinished_run_of(out, input_sha256):
        raise OutputExistsError(errno.EEXIST, f"output folder {out} exists and is not empty; pass --force to "
                                              "overwrite it")
    check_writable_dir(out.parent if not out.exists() else out, what="output folder")
    return out


# ----------------------------------------------------------------------------------- one run per folder
def lock_path(out: str | Path) -> Path:
    """The lock file of output folder ``out``: beside it, so that it survives ``out`` being renamed."""
    out = Path(out)
    return out.parent / f".{out.name}.lock"


def _holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _describe(holder: dict) -> str:
    if not holder.get("pid"):
        return "another run (starting up)"
    since = holder.get("started")
    when = time.strftime(", since %Y-%m-%d %H:%M:%S", time.localtime(since)) if isinstance(since, int | float) else ""
    return f"another run (pid {holder['pid']} on host {holder.get('host', '?')}{when})"


def _flock(fd: int) -> bool:
    """Take an exclusive lock on ``fd`` without waiting; False if another open file holds it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX (Windows): no lock is taken
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def hold_output_dir(out: str | Path) -> Iterator[Path]:
    """Hold output folder ``out`` for one run (see the module docstring); yields the lock file's path.

    Raises :class:`OutputLockedError` naming the holder (pid, host, start) if another live process holds it.
    The lock file is removed on exit; one left by a dead process is taken over (``stale`` in the log)."""
    path = lock_path(out)
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _os_error(exc, "output folder", Path(out)) from None
        if not _flock(fd):
            os.close(fd)
            holder = _holder(path)
            if {k: holder.get(k) for k in me} == me:  # this process holds it already (the CLI, then the writer)
                yield path
                return
            raise OutputLockedError(errno.EBUSY, f"output folder {out} is in use by {_describe(holder)}, "
                                                 f"which holds {path}; wait for it to finish or choose another "
                                                 "--out")
        try:  # the file may have been removed (by its last holder) between our open and our lock: retry
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        stale = _holder(path)
        if stale.get("pid"):
            logger.info("took over the lock %s left by %s, which is no longer running", path, _describe(stale))
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({**me, "started": time.time(), "out": str(out)}).encode())
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        raise _os_error(exc, "output folder", Path(out)) from None
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # before unlocking: a run that opens the path now creates and locks a new file
        os.close(fd)


# ----------------------------------------------------------------------------------- atomic writing
def _fsync_tree(folder: Path) -> None:
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            with p.open("rb") as fh:
                os.fsync(fh.fileno())
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _completion_last(folder: Path) -> list[Path]:
    return sorted(folder.iterdir(), key=lambda p: p.name == COMPLETION_FILE)


def _swap_entries(tmp: Path, out: Path, old: Path) -> None:
    """Move ``out``'s entries aside into ``old``, then ``tmp``'s into ``out``, the completion file last each
    time: ``old`` holds it only once every old entry is there, ``out`` only once every new one is (how
    :func:`_move_back` tells how far a swap got)."""
    old.mkdir()
    (old / PARTIAL_MARKER).write_text(json.dumps({"pid": os.getpid(), "mode": "entries"}))
    for p in _completion_last(out):
        os.replace(p, old / p.name)
    for p in _completion_last(tmp):
        os.replace(p, out / p.name)
    tmp.rmdir()


def _move_back(old: Path, out: Path) -> None:
    """Put the previous results moved aside into ``old`` back at ``out``, however far the swap got: a
    renamed folder is renamed back; swapped entries are moved back after removing those of the new run."""
    if _read_marker(old).get("mode") != "entries":
        if not out.exists():
            os.replace(old, out)
            (out / PARTIAL_MARKER).unlink(missing_ok=True)
        return
    if (old / COMPLETION_FILE).exists() and out.is_dir():  # every old entry was out: OUT's are the new run's
        for p in list(out.iterdir()):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
    out.mkdir(exist_ok=True)
    for p in list(old.iterdir()):
        if p.name != PARTIAL_MARKER:
            os.replace(p, out / p.name)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_output_dir(out: str | Path, *, input_sha256: str | None = None) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; on success it replaces ``out`` (whose previous content,
    if any, is removed); on any failure it is removed and ``out`` is left as it was. The caller writes
    :data:`COMPLETION_FILE` last. Write failures (read-only, disk full) become :class:`OutputError`."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        (tmp / PARTIAL_MARKER).write_text(json.dumps({"pid": os.getpid(), "input_sha256": input_sha256,
                                                      "out": str(out)}))
    except OSError as exc:
        raise _os_error(exc, "output folder", out) from None
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    try:
        yield tmp
        _fsync_tree(tmp)
        (tmp / PARTIAL_MARKER).unlink()
        if out.exists():
            try:
                os.replace(out, old)
            except OSError:  # OUT is a mount point or in use as a working directory: swap its entries
                _swap_entries(tmp, out, old)
            else:
                (old / PARTIAL_MARKER).write_text(json.dumps({"pid": os.getpid()}))
                os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException as exc:
        if old.exists():  # failed during the --force swap: the previous results go back in place
            with contextlib.suppress(OSError):  # else the next run's recover() puts them back
                _move_back(old, out)
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise _os_error(exc, "output folder", out) from exc
        raise


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``, on failure removed."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")  # keeps the suffix (np.save)
    try:
        yield tmp
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise _os_error(exc, "file", path) from exc
        raise
