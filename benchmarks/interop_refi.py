"""Interoperability benchmark: import the .qdpx we write with a real QDA program's own importer (QualCoder).

Not a test (CI cannot fetch QualCoder): a measurement. Three projects are written with ``stakeholder-nlp``:

1. ``gp``: the built-in GP corpus analysed with its codebook (``analyze ... --codebook ... --qdpx``);
2. ``transcripts``: transcripts with non-ASCII text, emoji, CRLF and LF line endings, ingested with a manifest
   (wave, role) and analysed (``ingest`` then ``analyze --qdpx``);
3. ``qc132_roundtrip``: ``../shared/data/refi_qda_samples/qc132_demo_coded.qdpx`` read by our reader and
   written back by our writer (no analysis, so the project's own codes, codings and sources only).

Each is imported by QualCoder's ``refi.RefiImport.import_project`` (LGPL; from a checkout, run headless with
``QT_QPA_PLATFORM=offscreen`` in its own virtual environment, with its file dialogs and message boxes answered
by stubs) into a fresh QualCoder project database, built with the ``CREATE TABLE`` statements of that checkout's
own ``new_project``. The QualCoder database is then checked against what we wrote:

* sources (names and full texts), codes and categories, codings (each with its code), cases;
* attributes: every case's and every source's variable values (``wave``, speaker attributes such as ``role``),
  and that each attribute name is of the kind (case or file) it was written for;
* offsets: each coded segment's ``seltext`` equals the source text at ``[pos0, pos1)`` and equals the quote
  (for analyses) or the original project's segment text (for the round trip).

    .venv/bin/python benchmarks/interop_refi.py --qualcoder /tmp/qualcoder --qualcoder-python /tmp/qcvenv/bin/python

``--qualcoder`` is a QualCoder checkout (the folder holding ``src/qualcoder/refi.py``); ``--qualcoder-python``
an interpreter with PyQt6, pymupdf and Pillow installed. Writes ``benchmarks/results/interop_refi.json``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "data" / "refi_qda_samples"

# ------------------------------------------------------------------ the QualCoder side (runs in its venv)


def qualcoder_import(qualcoder: str, qdpx: str, project_dir: str) -> dict[str, Any]:
    """Create a QualCoder project at ``project_dir`` and import ``qdpx`` with QualCoder's own RefiImport.

    Runs under QualCoder's interpreter: only the standard library, PyQt6 and the checkout are imported.
    """
    import ast
    import builtins
    import types

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    builtins._ = lambda s: s  # QualCoder installs gettext's _ at start-up
    src = Path(qualcoder) / "src"
    sys.path.insert(0, str(src))
    from PyQt6 import QtWidgets

    try:  # the media player needs libpulse, which a headless box may lack; the text importer never plays media
        import PyQt6.QtMultimedia  # noqa: F401
        import PyQt6.QtMultimediaWidgets  # noqa: F401
    except ImportError:
        for name in ("PyQt6.QtMultimedia", "PyQt6.QtMultimediaWidgets"):
            mod = types.ModuleType(name)
            mod.__getattr__ = lambda attr: type(attr, (), {})
            sys.modules[name] = mod
    qapp = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    from qualcoder import refi

    messages: list[list[str]] = []

    class Message:  # QualCoder's modal QMessageBox would block a headless run
        def __init__(self, app: Any, title: str, text: str, icon: str | None = None) -> None:
            messages.append([str(title), str(text)])

        def exec(self) -> int:
            return 0

    refi.Message = Message
    QtWidgets.QFileDialog.getOpenFileName = staticmethod(lambda *a, **k: (qdpx, "(*.qdpx *.QDPX)"))

    class Log:
        def __init__(self) -> None:
            self.lines: list[str] = []

        def append(self, text: str) -> None:
            self.lines.append(str(text))

    # the schema: the CREATE TABLE statements of this checkout's own new_project
    main_src = (src / "qualcoder" / "__main__.py").read_text(encoding="utf-8")
    creates: list[str] = []
    for node in ast.walk(ast.parse(main_src)):
        if isinstance(node, ast.FunctionDef) and node.name == "new_project":
            for call in ast.walk(node):
                if (isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "execute" and call.args
                        and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)
                        and call.args[0].value.lstrip().upper().startswith("CREATE TABLE")):
                    creates.append(call.args[0].value)
    pdir = Path(project_dir)
    for sub in ("images", "audio", "video", "documents"):
        (pdir / sub).mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(pdir / "data.qda")
    for sql in creates:
        conn.execute(sql)
    conn.commit()

    class App:
        def __init__(self) -> None:
            self.conn = conn
            self.project_path = str(pdir)
            self.project_name = pdir.name
            self.settings = {"directory": str(pdir.parent), "codername": "default", "ai_enable": "False"}
            self.ai_models: list[Any] = []
            self.project_events = None

        def write_config_ini(self, settings: Any, ai_models: Any) -> None:
            pass

    log = Log()
    refi.RefiImport(App(), log, "qdpx")
    conn.commit()
    conn.close()
    del qapp
    return {"tables": len(creates), "messages": messages, "log": log.lines}


# ------------------------------------------------------------------ our side: write the projects


def _cli(*args: str) -> None:
    exe = ROOT / ".venv" / "bin" / "stakeholder-nlp"
    subprocess.run([str(exe), *args], check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                   env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})


SENTENCES = (
    "Les données arrivent à l'heure 😀, merci… vraiment.",
    "Le partage entre équipes est difficile; personne n'a le temps 😩.",
    "The analyst left 👨\u200d👩\u200d👧 and nobody replaced her; e\u0301 combining.",
    "We share learning in the cluster meeting 🇬🇧 every month.",
    "Leadership is local; the lead GP chairs it — “quotes” and ‘marks’.",
    "Toujours en retard 😤; l'analyste part en mars.",
    "La direction locale est forte; le médecin chef 🩺 anime tout.",
    "Sharing learning across clusters is better 📈 now, ½ the time.",
    "東京 and Zürich both sent data; Ångström units were wrong.",
    "Still no analyst 😞; we pay for one from the practice budget.",
    "Die Qualität ist gut, aber die Daten fehlen 🤷.",
    "Η ομάδα συναντιέται κάθε μήνα για τα δεδομένα.",
    "Social care partners join us 🤝 but MDTs exclude the GP.",
    "National oversight versus local autonomy — a real tension 🙃.",
)
SPEAKERS = ("Résidente", "Dr Zoë Ångström", "Søren Ølgaard", "李 明")
ROLES = ("practice nurse", "GP", "practice manager", "GP")


def transcripts() -> dict[str, str]:
    """Two waves of interviews with four speakers: CRLF or LF line endings, lines broken inside turns."""
    out = {}
    for w, wave in enumerate((2023, 2024)):
        for k, speaker in enumerate(SPEAKERS):
            nl = "\r\n" if (k + w) % 2 == 0 else "\n"
            turns = [f"Entretien {k + 1}, vague {wave}"]
            for t in range(4):
                a = SENTENCES[(k * 3 + t + w * 5) % len(SENTENCES)]
                b = SENTENCES[(k * 5 + t * 2 + w) % len(SENTENCES)]
                turns.append(f"Interviewer: Question {t + 1}, s'il vous plaît ?")
                turns.append(f"{speaker}: {a}{nl}{b}" + (f" (tour {t})" if t % 2 else ""))
            out[f"interview_{k}_w{wave}.txt"] = (nl + nl).join(turns) + nl
    return out


MANIFEST = ("file,wave,speaker,role\n"
            "interview_*_w2023.txt,2023,,\n"
            "interview_*_w2024.txt,2024,,\n"
            + "".join(f"interview_{k}_*.txt,,{s},{r}\n" for k, (s, r) in enumerate(zip(SPEAKERS, ROLES, strict=True))))


def build_projects(work: Path) -> dict[str, dict[str, Any]]:
    """Write the three projects; for each: the .qdpx and the quotes its selections should hold."""
    import pandas as pd

    from stakeholder_nlp.corpus.refi_qda import read_qdpx
    from stakeholder_nlp.report.qdpx import write_qdpx

    out: dict[str, dict[str, Any]] = {}
    gp = work / "gp.qdpx"
    _cli("analyze", "corpus/gp_clusters/quotes.jsonl", "--out", str(work / "gp_out"), "--codebook",
         "corpus/gp_clusters/codebook.toml", "--runs", "0", "--qdpx", str(gp), "--force")
    quotes = pd.read_json(ROOT / "corpus" / "gp_clusters" / "quotes.jsonl", lines=True)
    out["gp"] = {"qdpx": gp, "quotes": dict(zip(quotes["quote_id"].astype(str), quotes["text"].astype(str),
                                                strict=True))}

    tdir = work / "transcripts"
    tdir.mkdir()
    texts = transcripts()
    for name, text in texts.items():
        (tdir / name).write_bytes(text.encode("utf-8"))
    (tdir / "manifest.csv").write_text(MANIFEST, encoding="utf-8")
    corpus = work / "transcripts.jsonl"
    _cli("ingest", *(str(tdir / n) for n in texts), "--manifest", str(tdir / "manifest.csv"),
         "--drop-speakers", "Interviewer", "--out", str(corpus))
    tq = work / "transcripts.qdpx"
    _cli("analyze", str(corpus), "--out", str(work / "t_out"), "--codebook", "corpus/gp_clusters/codebook.toml",
         "--runs", "0", "--qdpx", str(tq), "--force")
    tquotes = pd.read_json(corpus, lines=True)
    tq_text = dict(zip(tquotes["quote_id"].astype(str), tquotes["text"].astype(str), strict=True))
    out["transcripts"] = {"qdpx": tq, "quotes": tq_text}
    # the same units written with their CRLF kept (line_endings="keep": the writer before this benchmark)
    from stakeholder_nlp.report.qdpx import analysis_project

    srcs = pd.read_json(work / "transcripts.sources.jsonl", lines=True)
    themes = pd.DataFrame({"theme_id": ["unit"], "label": ["unit"], "kind": ["codebook"]})
    proj, _ = analysis_project(tquotes, themes, pd.DataFrame({"unit": [True] * len(tquotes)}),
                               sources=dict(zip(srcs["source"], srcs["text"], strict=True)))
    kept = work / "transcripts_crlf_kept.qdpx"
    try:
        write_qdpx(proj, kept, line_endings="keep")
        out["transcripts_crlf_kept"] = {"qdpx": kept, "quotes": tq_text}
    except TypeError:  # a writer without line_endings (before it wrote LF) keeps CRLF anyway
        pass

    sample = SAMPLES / "qc132_demo_coded.qdpx"
    if sample.exists():
        original = read_qdpx(sample)
        rt = work / "qc132_roundtrip.qdpx"
        write_qdpx(original, rt)
        texts = {}
        for s in original.sources:
            for sel in s.selections:
                texts[sel.guid] = s.text[sel.start:sel.end] if s.text is not None else None
        out["qc132_roundtrip"] = {"qdpx": rt, "selection_texts": texts}
        # baseline: the original file straight into QualCoder (its sources have no name: QualCoder's are NULL)
        out["qc132_original"] = {"qdpx": sample, "selection_texts": texts}
    return out


# ------------------------------------------------------------------ the checks


def _nl(s: str | None) -> str | None:
    return None if s is None else s.replace("\r\n", "\n").replace("\r", "\n")


def check(db: Path, qdpx: Path, quotes: dict[str, str] | None = None,
          selection_texts: dict[str, str | None] | None = None) -> dict[str, Any]:
    """Compare QualCoder's database with the project we wrote (read back by our own reader)."""
    from stakeholder_nlp.corpus.refi_qda import read_qdpx

    ours = read_qdpx(qdpx)
    con = sqlite3.connect(db)
    q = con.execute
    problems: list[str] = []

    # sources
    src_rows = {name: text for name, text in q("select name, fulltext from source")}
    n_text_mismatch = 0
    for s in ours.sources:
        got = src_rows.get(s.name)
        if got is None:
            problems.append(f"source {s.name!r} missing")
        elif got != s.text:
            n_text_mismatch += 1
            if n_text_mismatch <= 3:
                problems.append(f"source {s.name!r}: full text differs")
    # codes: codable codes -> code_name, non-codable (categories) -> code_cat
    n_codable = sum(c.codable for c in ours.codes)
    n_cat = len(ours.codes) - n_codable
    got_codes = q("select count(*) from code_name").fetchone()[0]
    got_cats = q("select count(*) from code_cat").fetchone()[0]
    if got_codes != n_codable or got_cats != n_cat:
        problems.append(f"codes: {got_codes} codes + {got_cats} categories in QualCoder; wrote {n_codable} + {n_cat}")
    # codings
    n_codings = sum(len(sel.codes) for s in ours.sources for sel in s.selections)
    got_codings = q("select count(*) from code_text").fetchone()[0]
    no_code = q("select count(*) from code_text where cid is null or cid not in (select cid from code_name)"
                ).fetchone()[0]
    if got_codings != n_codings:
        problems.append(f"codings: {got_codings} in QualCoder; wrote {n_codings}")
    if no_code:
        problems.append(f"{no_code} codings without a code")
    # which code each coding got
    want_paths = sorted((s.name, sel.start, sel.end, ours.code_path(g))
                        for s in ours.sources for sel in s.selections for g in sel.codes)
    cats = {cid: (name, sup) for cid, name, sup in q("select catid, name, supercatid from code_cat")}
    codes_q = {cid: (name, cat, sup) for cid, name, cat, sup in q("select cid, name, catid, supercid from code_name")}

    def qc_path(cid: int) -> str:
        names, seen, cat = [], set(), None
        while cid is not None and cid in codes_q and cid not in seen:
            seen.add(cid)
            name, cat, cid = codes_q[cid]
            names.append(name)
        while cat is not None and cat in cats and ("cat", cat) not in seen:
            seen.add(("cat", cat))
            name, cat = cats[cat]
            names.append(name)
        return "/".join(reversed(names))

    got_paths = sorted((n, p0, p1, qc_path(cid)) for n, p0, p1, cid in
                       q("select s.name, ct.pos0, ct.pos1, ct.cid from code_text ct join source s on ct.fid = s.id"))
    wrong_code = len(want_paths) - sum((collections.Counter(want_paths)
                                        & collections.Counter(got_paths)).values())
    if wrong_code:
        problems.append(f"{wrong_code} codings are not on the code (by path) they were written for")
    # cases
    got_cases = {r[0] for r in q("select name from cases")}
    want_cases = {c.name for c in ours.cases}
    if got_cases != want_cases:
        problems.append(f"cases: {sorted(want_cases - got_cases)[:5]} missing, {sorted(got_cases - want_cases)[:5]} extra")
    # attributes: values by (kind, holder name, attribute name)
    got_attr = {}
    for name, kind, value, holder in q("select a.name, a.attr_type, a.value, coalesce(c.name, s.name) from attribute a "
                                       "left join cases c on a.attr_type = 'case' and a.id = c.caseid "
                                       "left join source s on a.attr_type = 'file' and a.id = s.id"):
        got_attr[(kind, holder, name)] = value
    want_attr = {}
    for c in ours.cases:
        for k, v in c.variables.items():
            want_attr[("case", c.name, k)] = v
    for s in ours.sources:
        for k, v in s.variables.items():
            want_attr[("file", s.name, k)] = v

    def same(a: Any, b: Any) -> bool:
        if isinstance(b, bool):
            return str(a).strip().lower() == str(b).lower()
        if isinstance(b, int | float):
            try:
                return float(a) == float(b)
            except (TypeError, ValueError):
                return False
        return str(a).strip() == str(b).strip()

    attr_bad = [k for k, v in want_attr.items() if k not in got_attr or not same(got_attr[k], v)]
    if attr_bad:
        problems.append(f"{len(attr_bad)} attribute values missing or different, e.g. {attr_bad[:3]}")
    kinds = dict(q("select name, caseOrFile from attribute_type").fetchall())
    want_kind = {}
    for kind, _, name in want_attr:
        want_kind.setdefault(name, set()).add(kind)
    kind_bad = {n: (sorted(k), kinds.get(n)) for n, k in want_kind.items() if len(k) != 1 or kinds.get(n) != next(iter(k))}
    if kind_bad:
        problems.append(f"attribute kinds QualCoder cannot hold (one name, one kind): {kind_bad}")
    # offsets
    checked = mismatched_exact = mismatched_nl = 0
    full = {sid: text for sid, text in q("select id, fulltext from source")}
    examples: list[str] = []
    by_pos: dict[tuple[str, int, int], list[str]] = {}
    for s in ours.sources:
        for sel in s.selections:
            by_pos.setdefault((s.name, sel.start, sel.end), []).append(sel.name or sel.guid)
    sel_guid = {(s.name, sel.start, sel.end): sel.guid for s in ours.sources for sel in s.selections}
    for fid, sname, seltext, p0, p1 in q("select ct.fid, s.name, ct.seltext, ct.pos0, ct.pos1 from code_text ct "
                                         "join source s on ct.fid = s.id"):
        if quotes is not None:
            names = by_pos.get((sname, p0, p1), [])
            want = quotes.get(names[0]) if names else None
        else:
            want = (selection_texts or {}).get(sel_guid.get((sname, p0, p1), ""))
        checked += 1
        ok_src = full[fid][p0:p1] == seltext
        exact = ok_src and want is not None and seltext == want
        ok_nl = ok_src and want is not None and _nl(seltext) == _nl(want)
        mismatched_exact += not exact
        mismatched_nl += not ok_nl
        if not ok_nl and len(examples) < 3:
            examples.append(f"{sname}[{p0}:{p1}]: {seltext!r} vs {want!r}")
    journals = q("select count(*) from journal").fetchone()[0]
    case_text = q("select count(*) from case_text").fetchone()[0]
    con.close()
    return {"sources": {"written": len(ours.sources), "imported": len(src_rows), "text_mismatched": n_text_mismatch},
            "notes": {"written": len(ours.notes), "imported_as_journals": journals},
            # QualCoder links a named case to text only through a Code sharing its GUID (ATLAS.ti's way); it
            # reads neither SelectionRef nor SourceRef of a named case
            "case_text_links": {"written": sum(len(c.selections) + len(c.sources) for c in ours.cases),
                                "imported": case_text},
            "codes": {"written": n_codable, "imported": got_codes},
            "categories": {"written": n_cat, "imported": got_cats},
            "codings": {"written": n_codings, "imported": got_codings, "without_code": no_code,
                        "on_another_code": wrong_code},
            "cases": {"written": len(want_cases), "imported": len(got_cases & want_cases)},
            "attributes": {"written": len(want_attr), "imported_equal": len(want_attr) - len(attr_bad),
                           "kind_conflicts": len(kind_bad)},
            # mismatched: segment text != the quote with its line endings as written (LF); exact: CRLF counted
            "offsets": {"checked": checked, "mismatched": mismatched_nl, "mismatched_exact": mismatched_exact,
                        "examples": examples},
            "problems": problems}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qualcoder", help="QualCoder checkout (holds src/qualcoder/refi.py)")
    ap.add_argument("--qualcoder-python", default=sys.executable, help="interpreter with PyQt6, pymupdf, Pillow")
    ap.add_argument("--keep", help="folder to keep the projects and QualCoder databases in")
    ap.add_argument("--name", default="interop_refi", help="result name (benchmarks/results/NAME.json)")
    ap.add_argument("--qc-import", nargs=2, metavar=("QDPX", "PROJECT_DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.qc_import:  # the QualCoder side, in QualCoder's interpreter
        print(json.dumps(qualcoder_import(args.qualcoder, *args.qc_import)))
        return
    if not args.qualcoder:
        ap.error("--qualcoder PATH is required")
    sys.path.insert(0, str(ROOT))
    from benchmarks.common import write_result

    qc = Path(args.qualcoder).resolve()
    commit = None
    try:
        commit = subprocess.run(["git", "-C", str(qc), "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = (qc / "COMMIT").read_text().strip() if (qc / "COMMIT").exists() else None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        projects = build_projects(work)
        results: dict[str, Any] = {}
        for name, spec in projects.items():
            pdir = work / f"{name}.qda"
            res = subprocess.run([args.qualcoder_python, __file__, "--qualcoder", str(qc), "--qc-import",
                                  str(spec["qdpx"]), str(pdir)], capture_output=True, text=True, timeout=600,
                                 env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
            if res.returncode != 0:
                results[name] = {"import_error": res.stderr[-2000:]}
                print(name, "import failed:", res.stderr[-2000:])
                continue
            qc_out = json.loads(res.stdout.strip().splitlines()[-1])
            r = check(pdir / "data.qda", spec["qdpx"], spec.get("quotes"), spec.get("selection_texts"))
            r["qualcoder_messages"] = [m for m in qc_out["messages"] if "EXPERIMENTAL" not in m[1]]
            results[name] = r
            print(f"{name}: sources {r['sources']['imported']}/{r['sources']['written']}, codes "
                  f"{r['codes']['imported']}/{r['codes']['written']} (+{r['categories']['imported']}/"
                  f"{r['categories']['written']} categories), codings {r['codings']['imported']}/"
                  f"{r['codings']['written']}, cases {r['cases']['imported']}/{r['cases']['written']}, attributes "
                  f"{r['attributes']['imported_equal']}/{r['attributes']['written']}, offsets checked "
                  f"{r['offsets']['checked']} mismatched {r['offsets']['mismatched']}")
            for p in r["problems"]:
                print("   problem:", p)
            for m in r["qualcoder_messages"]:
                print("   qualcoder says:", m)
    payload = {"qualcoder": {"path": str(qc), "commit": commit}, "projects": results}
    path = write_result(args.name, payload)
    print("wrote", path)


if __name__ == "__main__":
    main()
