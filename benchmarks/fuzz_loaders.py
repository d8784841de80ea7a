"""Fuzz campaign over the corpus loaders and the CLI's input handling (not a test: a measurement).

Generates random tables of good and bad cells (numbers, booleans, lists, bytes, NaN/Infinity, invisible
text, lone surrogates, formula-like text, line breaks, mixed wave kinds, duplicate ids...), writes each as a
DataFrame, JSONL, CSV, TSV or parquet, optionally corrupts the bytes (truncation, flipped bytes, BOMs,
UTF-16, stray separators/quotes, random junk), loads it, and classifies the outcome against the expectation
in ``tests/corpus/loader_oracle.py``:

* ``typed``: a ``CorpusFormatError`` where one was expected (at the expected row), or for corrupted bytes;
* ``correct``: a load equal to the expected corpus (or, for corrupted bytes, one that passes the invariants);
* ``untyped``: any other exception (must be 0);
* ``wrong``: a load that differs from the expectation or breaks an invariant, an error where a load was
  expected, or an error naming another row (must be 0).

A share of the inputs also goes through ``stakeholder-nlp corpus summary`` (exit 2 with a one-line error,
never a traceback). Also: a folder named ``x.jsonl`` and unreadable files.

    .venv/bin/python benchmarks/fuzz_loaders.py [--n 10000] [--seed 0]

Writes ``benchmarks/results/fuzz_loaders.json``.

``--documents N`` runs the campaign over transcripts and REFI-QDA files instead (``tests/corpus/document_oracle.py``):
N files spread over .qdpx, .qdc, .docx, .odt, .vtt, .srt and .txt, 40% clean and the rest one attack each
(entity bombs, external and parameter entities, deep nesting, zip bombs, zip-slip member names and paths,
wrong selection offsets, damaged bytes, pathological lines for the turn patterns), loaded as a user would
(``ingest``; ``read_qdc`` for codebooks). Outcomes: typed, correct, untyped, wrong, and ``hang`` (slower than
``--time-limit`` seconds, or stopped after 60 s). The zip bombs hold 1 MiB against a cap lowered to 512 KiB
(cheap); one real bomb per archive format (1 GiB of zeros, about 1 MB compressed) runs against the real cap.
Writes ``benchmarks/results/fuzz_documents.json``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write_result  # noqa: E402
from tests.corpus import loader_oracle as oracle  # noqa: E402


def run_one(seed: int, folder: Path, cli_share: float = 0.05) -> tuple[str, str, str]:
    """(outcome, format, detail) of one generated input."""
    from stakeholder_nlp.corpus import load_corpus
    from stakeholder_nlp.errors import CorpusFormatError

    rng = random.Random(seed)
    cols, rows = oracle.gen_table(rng)
    fmt = rng.choice(oracle.FORMATS)
    for p in folder.iterdir():
        p.unlink()
    try:
        source, seen, lines = oracle.write(fmt, cols, rows, folder, rng)
    except oracle.Unrepresentable:
        return "unrepresentable", fmt, ""
    mutated = fmt != "dataframe" and rng.random() < 0.3
    if mutated:
        source.write_bytes(oracle.mutate(source.read_bytes(), rng))
    try:
        expected = oracle.expect(cols, seen, lines)
        want_row = None
    except oracle.Expected as exc:
        expected, want_row = None, exc.row
    skip = rng.random() < 0.15
    try:
        corpus = load_corpus(source, on_error="skip") if skip else load_corpus(source)
    except CorpusFormatError as exc:
        if mutated or skip or expected is None and exc.row == want_row:
            outcome, detail = "typed", ""
        elif expected is None:
            outcome, detail = "wrong", f"error at row {exc.row}, expected row {want_row}: {exc}"
        else:
            outcome, detail = "wrong", f"unexpected error: {exc}"
    except Exception as exc:  # noqa: BLE001 - this is what the campaign counts
        return "untyped", fmt, "".join(traceback.format_exception_only(exc)).strip()
    else:
        if mutated or skip:
            problems = oracle.invariants(corpus)
        elif expected is None:
            problems = [f"loaded {len(corpus)} quotes where an error at row {want_row} was expected"]
        else:
            problems = oracle.compare(corpus, expected, cols)
        outcome, detail = ("wrong", "; ".join(problems[:3])) if problems else ("correct", "")
    if fmt != "dataframe" and rng.random() < cli_share:
        cli = _cli(source)
        if cli:
            return "untyped", fmt + "+cli", cli
    return outcome, fmt + ("+mutated" if mutated else ""), detail


def _cli(source: Path) -> str:
    """'' if ``corpus summary`` exits 0, or 2 with an 'error:' line; else what went wrong."""
    from typer.testing import CliRunner

    from stakeholder_nlp.cli import app

    res = CliRunner().invoke(app, ["corpus", "summary", str(source)])
    if res.exit_code == 0 or (res.exit_code == 2 and "error:" in res.output and "Traceback" not in res.output):
        return ""
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        return "cli: " + "".join(traceback.format_exception_only(res.exception)).strip()
    return f"cli exit {res.exit_code}: {res.output[-300:]}"


def special_cases(folder: Path) -> list[tuple[str, str]]:
    """Inputs that are not tables: a folder named like a corpus, an unreadable file, odd suffixes."""
    from stakeholder_nlp.corpus import load_corpus
    from stakeholder_nlp.errors import CorpusFormatError

    out = []
    d = folder / "x.jsonl"
    d.mkdir()
    cases = [d, folder / "noext", folder / "empty.csv", folder / "empty.jsonl", folder / "empty.parquet",
             folder / "header_only.csv"]
    (folder / "noext").write_text("text,wave\n")
    (folder / "empty.csv").write_bytes(b"")
    (folder / "empty.jsonl").write_bytes(b"")
    (folder / "empty.parquet").write_bytes(b"")
    (folder / "header_only.csv").write_text("text,wave,speaker\n")
    for path in cases:
        try:
            load_corpus(path)
            out.append(("wrong", f"{path.name}: loaded"))
        except CorpusFormatError:
            out.append(("typed", path.name))
        except Exception as exc:  # noqa: BLE001
            out.append(("untyped", f"{path.name}: {exc!r}"))
        cli = _cli(path)
        if cli:
            out.append(("untyped", f"{path.name}: {cli}"))
    return out


class _Stopped(BaseException):
    """Raised by the alarm in a load that runs past the hard limit (a BaseException: classify lets it through)."""


def _real_bombs(folder: Path) -> list[tuple[str, str, str]]:
    """A .qdpx and a .docx whose one member is 1 GiB of zeros (streamed: ~1 MB on disk), at the real cap."""
    import zipfile

    from tests.corpus import document_oracle as documents

    out = []
    for fmt in ("qdpx", "docx"):
        case = documents.make_case(random.Random(fmt), folder, fmt, "clean")
        with zipfile.ZipFile(case.path) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        # the member the parser reads: a source's text, or the Word document itself
        target = next(n for n in members if n.startswith("sources/")) if fmt == "qdpx" else "word/document.xml"
        with zipfile.ZipFile(case.path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():
                if name != target:
                    zf.writestr(name, data)
            with zf.open(target, "w", force_zip64=True) as f:
                block = bytes(2**20)
                for _ in range(1024):
                    f.write(block)
        case.kind, case.expect, case.error_ok = "real_zip_bomb", documents._refused, True
        outcome, detail = documents.classify(case, time_limit=30.0)
        out.append((outcome, fmt, detail or f"{case.path.stat().st_size:,} bytes on disk"))
    return out


def documents_main(n: int, seed: int, time_limit: float) -> None:
    import signal

    from tests.corpus import document_oracle as documents

    from stakeholder_nlp.corpus import refi_qda

    def stop(*_):
        raise _Stopped

    signal.signal(signal.SIGALRM, stop)
    counts: Counter[str] = Counter()
    by_format: dict[str, Counter[str]] = {}
    by_attack: dict[str, Counter[str]] = {}
    examples: dict[str, list[str]] = {"untyped": [], "wrong": [], "hang": []}
    slowest: list[tuple[float, str]] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for outcome, fmt, detail in _real_bombs(Path(tmp)):
            counts[outcome] += 1
            by_format.setdefault(fmt, Counter())[outcome] += 1
            by_attack.setdefault(f"{fmt}/real_zip_bomb", Counter())[outcome] += 1
            if outcome in examples:
                examples[outcome].append(f"real bomb [{fmt}]: {detail}")
        real_cap = refi_qda.MAX_MEMBER_BYTES
        refi_qda.MAX_MEMBER_BYTES = 2**19
        try:
            for i in range(n):
                fmt = documents.DOC_FORMATS[i % len(documents.DOC_FORMATS)]
                s = seed * 1_000_003 + i
                folder = Path(tmp) / f"in{i % 2}"
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                case = documents.make_case(random.Random(s), folder, fmt, bomb_bytes=2**20)
                t0 = time.perf_counter()
                signal.alarm(60)
                try:
                    outcome, detail = documents.classify(case, time_limit=time_limit)
                except _Stopped:
                    outcome, detail = "hang", "stopped after 60 s"
                finally:
                    signal.alarm(0)
                slowest = sorted([*slowest, (time.perf_counter() - t0, f"{fmt}/{case.kind} seed {s}")])[-5:]
                counts[outcome] += 1
                by_format.setdefault(fmt, Counter())[outcome] += 1
                by_attack.setdefault(f"{fmt}/{case.kind}", Counter())[outcome] += 1
                if outcome in examples and len(examples[outcome]) < 20:
                    examples[outcome].append(f"seed {s} [{fmt}/{case.kind}]: {detail}")
        finally:
            refi_qda.MAX_MEMBER_BYTES = real_cap
    seconds = time.perf_counter() - start
    payload = {"n_generated": n, "seed": seed, "time_limit_s": time_limit, "counts": dict(counts),
               "by_format": {k: dict(v) for k, v in sorted(by_format.items())},
               "by_attack": {k: dict(v) for k, v in sorted(by_attack.items())}, "examples": examples,
               "slowest_s": [[round(t, 2), what] for t, what in reversed(slowest)], "seconds": round(seconds, 1)}
    path = write_result("fuzz_documents", payload)
    print({k: counts[k] for k in ("typed", "correct", "untyped", "wrong", "hang")}, f"{seconds:.0f}s")
    for fmt, c in sorted(by_format.items()):
        print(f"  {fmt:5s}", {k: c[k] for k in ("typed", "correct", "untyped", "wrong", "hang")})
    for k in ("untyped", "wrong", "hang"):
        for e in examples[k][:10]:
            print(k, e)
    print("wrote", path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--documents", type=int, default=0, metavar="N",
                    help="fuzz N transcripts and REFI-QDA files instead of tables")
    ap.add_argument("--time-limit", type=float, default=5.0, help="seconds after which a load counts as a hang")
    args = ap.parse_args()
    if args.documents:
        documents_main(args.documents, args.seed, args.time_limit)
        return
    counts: Counter[str] = Counter()
    by_format: dict[str, Counter[str]] = {}
    examples: dict[str, list[str]] = {"untyped": [], "wrong": []}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for i in range(args.n):
            outcome, fmt, detail = run_one(args.seed * 1_000_003 + i, folder)
            counts[outcome] += 1
            by_format.setdefault(fmt, Counter())[outcome] += 1
            if outcome in examples and len(examples[outcome]) < 20:
                examples[outcome].append(f"seed {args.seed * 1_000_003 + i} [{fmt}]: {detail}")
        for outcome, detail in special_cases(Path(tmp) / "special" if (Path(tmp) / "special").mkdir() is None
                                             else Path(tmp)):
            counts[outcome] += 1
            by_format.setdefault("special", Counter())[outcome] += 1
            if outcome in examples:
                examples[outcome].append(detail)
    seconds = time.perf_counter() - start
    tested = sum(v for k, v in counts.items() if k != "unrepresentable")
    payload = {"n_generated": args.n, "n_tested": tested, "seed": args.seed, "counts": dict(counts),
               "by_format": {k: dict(v) for k, v in sorted(by_format.items())}, "examples": examples,
               "seconds": round(seconds, 1)}
    path = write_result("fuzz_loaders", payload)
    print({k: counts[k] for k in ("typed", "correct", "untyped", "wrong", "unrepresentable")}, f"{seconds:.0f}s")
    for k in ("untyped", "wrong"):
        for e in examples[k][:10]:
            print(k, e)
    print("wrote", path)


if __name__ == "__main__":
    main()
