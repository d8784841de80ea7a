"""Write an :class:`~stakeholder_nlp.pipeline.Analysis` to a folder with stable file names:
``quotes.csv``, ``framework_matrix.csv``/``.xlsx``, ``shifts.csv``, ``figures/*.png``, ``report.html``,
``run.json``. Floats are written rounded to 6 significant digits so that a re-run with the same input
and seed gives byte-identical CSVs."""

from __future__ import annotations

import json
import platform
from concurrent.futures import wait
from importlib import metadata
from pathlib import Path

import pandas as pd

from .. import __version__
from ..pipeline import Analysis
from .figures import write_figures
from .findings import classify_findings, finding_sentence
from .html import render_html
from .safety import (
    OutputExistsError,
    atomic_output_dir,
    file_sha256,
    hold_output_dir,
    neutralise_frame,
    strip_formula_cells,
    write_csv,
    write_parquet,
)
from .safety import check_output_dir as _check_output_dir
from .tables import framework_matrix, quotes_table, shift_table, top_level, tree_membership_of
from .workbook import cut_cells, cut_notice, start_workbook

FILES = ("quotes.csv", "framework_matrix.csv", "framework_matrix.xlsx", "shifts.csv", "report.html", "run.json",
         "themes.toml", "assignment.csv")
#: written when the analysis has change records (the ``changes`` stage ran): change.records.CHANGE_COLUMNS and
#: ECHO_COLUMNS
CHANGE_FILES = ("theme_changes.csv", "echoes.csv")
#: written when there is something to say: quotes set aside, rows skipped, themes promoted to the codebook,
#: lemmas and sentiment scores for a curation rerun (not with --redact)
OPTIONAL_FILES = ("set_aside.csv", "bad_rows.csv", "promoted_codebook.toml", "curation_state.parquet")


__all__ = ["FILES", "OPTIONAL_FILES", "OutputExistsError", "check_output_dir", "one_screen_summary", "write_report"]


def check_output_dir(out: Path, force: bool, input_path: Path | None = None) -> None:
    """Preflight (:func:`.safety.check_output_dir`): results already there need ``force``; an unfinished run
    of the same input is resumed; the location must be writable with room to spare."""
    _check_output_dir(out, force, input_sha256=file_sha256(input_path))


def _csv(df: pd.DataFrame, path: Path) -> None:
    write_csv(df, path)  # formula-like cells neutralised (OWASP)


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("stakeholder-nlp", "numpy", "pandas", "scikit-learn", "scipy", "statsmodels", "bertopic", "spacy",
                "sentence-transformers", "torch", "openvino", "onnxruntime", "vaderSentiment"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def write_report(a: Analysis, out: Path, *, input_path: Path | None = None, force: bool = False,
                 redact: bool = False, title: str = "Comparative thematic analysis") -> dict[str, Path]:
    """Write every output into a temporary folder beside ``out``, renamed into place only when complete
    (``run.json`` last, the completion marker): a killed, failed or disk-full write leaves ``out`` as it
    was. The folder is held for the whole write (:func:`.safety.hold_output_dir`): a second process writing
    to the same ``out`` meanwhile gets :class:`~.safety.OutputLockedError`. Returns the final paths."""
    final = Path(out)
    sha = file_sha256(input_path)
    with hold_output_dir(final):  # another run writing here is refused (OutputLockedError), not overwritten
        _check_output_dir(final, force, input_sha256=sha)
        if redact:
            from .redact import redact_analysis

            a = redact_analysis(a)
        with atomic_output_dir(final, input_sha256=sha) as tmp:
            paths = _write_into(a, tmp, input_path=input_path, input_sha256=sha, redact=redact, title=title)
            rel = {k: v.relative_to(tmp) for k, v in paths.items()}
    return {k: final / v for k, v in rel.items()}


def _write_into(a: Analysis, out: Path, *, input_path: Path | None, input_sha256: str | None, redact: bool,
                title: str) -> dict[str, Path]:
    texts = a.corpus.texts
    quotes = quotes_table(a, texts)
    matrix = framework_matrix(a)
    shifts = shift_table(a)
    paths = {"quotes": out / "quotes.csv", "matrix": out / "framework_matrix.csv",
             "matrix_xlsx": out / "framework_matrix.xlsx", "shifts": out / "shifts.csv",
             "html": out / "report.html", "run": out / "run.json"}
    # the report's findings, figures and tables read the top level (the tree section shows the subthemes);
    # the files and the workbook hold both levels
    top_matrix, top_shifts = top_level(matrix), top_level(shifts)
    ranked = classify_findings(top_shifts, near_duplicates=a.near_duplicates)
    cut = cut_cells(quotes, neutralise_frame)  # quotes too long for a worksheet cell: said in run.json and the summary
    changes = getattr(a, "changes", None)
    # the workbook is written in a worker process (large corpora) while this one writes the rest; started
    # first, so that the analysis's idle workers are stopped (one is kept) before quotes.csv is written
    xlsx = start_workbook(paths["matrix_xlsx"], matrix, shifts, quotes, tree_membership_of(a),
                          list(dict.fromkeys(a.levels["wave"].tolist())), set_aside=a.set_aside,
                          sanitize=neutralise_frame, changes=None if changes is None else changes.changes)
    try:
        _csv(quotes, paths["quotes"])
        del quotes  # the largest table (a row per quote) is not held while the rest is written
        _csv(matrix, paths["matrix"])
        _csv(shifts, paths["shifts"])
        if a.trends is not None and len(a.trends):  # three or more waves: one linear trend per theme
            paths["trends"] = out / "trends.csv"
            labels = dict(zip(a.themes.themes["theme_id"], a.themes.themes["label"], strict=True))
            _csv(a.trends.assign(label=a.trends["theme_id"].map(labels)), paths["trends"])
        if changes is not None:  # how each theme changed (change.records): one row per theme x compared pair
            paths["changes"], paths["echoes"] = out / "theme_changes.csv", out / "echoes.csv"
            _csv(changes.changes, paths["changes"])
            _csv(changes.echoes, paths["echoes"])
        paths.update(_write_curation(a, out, texts, input_path, redact=redact))
        agreement = getattr(a, "agreement", None)
        if agreement is not None:  # codebook coding vs the corpus's human codes (themes.crossval.AGREEMENT_COLUMNS)
            paths["agreement"] = out / "agreement.csv"
            _csv(agreement, paths["agreement"])
        figures = write_figures(a, top_matrix, out / "figures", shifts=ranked)
        paths.update({f"figure_{k}": v for k, v in figures.items() if isinstance(v, Path)})
        paths["html"].write_text(render_html(a, top_matrix, top_shifts, figures, texts, title), encoding="utf-8")
    finally:
        wait([xlsx])  # never leave the worker writing into a folder that is being removed
    xlsx.result()
    strip_formula_cells(paths["matrix_xlsx"])  # no formula cell from data, whatever the workbook code does
    run = {"stakeholder_nlp": __version__, "python": platform.python_version(), "input": str(input_path) if input_path else None,
           "input_sha256": input_sha256, "warnings": list(a.corpus.warnings),
           "n_quotes": len(a.corpus), "n_unattributed_quotes": a.corpus.n_unattributed,
           "notes": [n for n in (cut_notice(cut), _scorer_note(a.config)) if n],
           "workbook_cut_quote_ids": [n["quote_id"] for n in cut if n["quote_id"]], "waves": a.config.get("wave_order", {}).get("levels", list(a.corpus.waves)), "model_id": a.model_id,
           "config": a.config, "redacted": redact, "timings_s": {k: round(v, 3) for k, v in a.timings.items()},
           "versions": _versions(), "files": {k: str(v.relative_to(out)) for k, v in paths.items() if k != "run"},
           "n_set_aside": 0 if a.set_aside is None else len(a.set_aside), "n_bad_rows": len(a.corpus.skipped),
           "sentiment_notice": a.sentiment_notice,
           "sentiment_validation": ([] if a.sentiment_validation is None
                                    else a.sentiment_validation.to_dict(orient="records")),
           "agreement": [] if agreement is None else agreement.to_dict(orient="records"),
           "changes": None if changes is None else {**changes.config, "summary": list(changes.summary)}}
    paths["run"].write_text(json.dumps(run, indent=2, default=str) + "\n")  # last: the completion marker
    return paths


def _write_curation(a: Analysis, out: Path, texts: list[str], input_path: Path | None, *,
                    redact: bool = False) -> dict[str, Path]:
    """themes.toml + assignment.csv (the curation loop), set_aside.csv, bad_rows.csv, promoted_codebook.toml."""
    from ..themes.curation import (
        STATE_FILE,
        assignment_table,
        promoted_codebook_text,
        state_table,
        themes_file_text,
    )

    paths = {"themes_file": out / "themes.toml", "assignment": out / "assignment.csv"}
    reps = a.themes.themes.set_index("theme_id")["representative"]
    examples = {tid: [texts[i] for i in list(reps[tid])[:3]] for tid in reps.index}
    paths["themes_file"].write_text(themes_file_text(a.themes, examples=examples, near=a.near_duplicates,
                                                     subthemes=getattr(a, "subthemes", None),
                                                     source=str(input_path) if input_path else None),
                                    encoding="utf-8")
    _csv(assignment_table(a.themes, a.corpus.quotes["quote_id"].tolist(), getattr(a, "subthemes", None)),
         paths["assignment"])
    if a.lemmas is not None and not redact:  # lemmas and scores for a fast curation rerun (never redacted text)
        paths["curation_state"] = out / STATE_FILE
        write_parquet(state_table(a.corpus.quotes["quote_id"].tolist(), a.corpus.texts, a.lemmas,
                                  str(a.config.get("sentiment", "")), a.sentiment_detail),
                      paths["curation_state"])  # a block of rows at a time (no whole Arrow copy)
    if a.set_aside is not None and len(a.set_aside):
        paths["set_aside"] = out / "set_aside.csv"
        _csv(a.set_aside, paths["set_aside"])
    if a.corpus.skipped:
        paths["bad_rows"] = out / "bad_rows.csv"
        _csv(pd.DataFrame([{"file": s.path, "row": s.row, "field": s.field, "reason": s.reason}
                           for s in a.corpus.skipped], columns=["file", "row", "field", "reason"]), paths["bad_rows"])
    if a.config.get("promoted"):
        text = promoted_codebook_text(a.themes, a.config["promoted"], texts)
        if text:
            paths["promoted_codebook"] = out / "promoted_codebook.toml"
            paths["promoted_codebook"].write_text(text, encoding="utf-8")
    return paths


def _scorer_note(config: dict) -> str:
    """A line when analyze chose another sentiment scorer than the default by itself (a large corpus)."""
    choice = config.get("sentiment_choice") or {}
    if choice.get("asked") or choice.get("scorer") in (None, "minilm-sentiment"):
        return ""
    return f"Sentiment scorer: {choice['reason']}"


def _run_notes(out: Path) -> list[str]:
    """The notes ``write_report`` put in ``run.json`` (e.g. quotes cut in the workbook); none if not written."""
    try:
        return list(json.loads((Path(out) / "run.json").read_text()).get("notes", []))
    except (OSError, ValueError):
        return []


def one_screen_summary(a: Analysis, out: Path) -> str:
    shifts = top_level(shift_table(a))
    n_anon = a.corpus.n_unattributed
    lines = [f"{len(a.corpus):,} quotes, {a.corpus.quotes['speaker'].nunique():,} speakers"
             + (f" + {n_anon:,} unattributed quotes (each its own speaker)" if n_anon else "")
             + f", waves {a.corpus.waves}; {len(a.themes.themes)} themes ({a.themes.mode})"]
    if a.config.get("wave_order"):
        lines.append(a.config["wave_order"]["sentence"])
    if a.set_aside is not None and len(a.set_aside):
        lines.append(f"{len(a.set_aside)} non-responses set aside before themes (set_aside.csv)")
    if a.corpus.skipped:
        lines.append(f"{len(a.corpus.skipped)} bad rows skipped (bad_rows.csv)")
    lines += _run_notes(out)
    ranked = classify_findings(shifts, near_duplicates=a.near_duplicates)
    waves = list(dict.fromkeys(a.levels["wave"].tolist()))
    holds = ranked[ranked["finding"] == "holds"]
    lines.append("Findings that hold:" if len(holds) else
                 "Findings that hold: none (no theme's share changed with q < 0.05 and survived the checks)")
    lines += ["  - " + finding_sentence(r, waves) for _, r in holds.iterrows()]
    care = ranked[ranked["finding"] == "needs care"]
    if len(care):
        lines.append("Significant but needing care (fragile, composition):")
        lines += [f"  - {finding_sentence(r, waves)} [{r['badges']}]" for _, r in care.iterrows()]
    if a.near_duplicates is not None and len(a.near_duplicates):
        lines.append(f"{len(a.near_duplicates)} pairs of near-duplicate emergent themes: merge them in themes.toml "
                     "and rerun with --themes")
    shifts = ranked
    view = shifts[["label", "share_a", "share_b", "share_diff", "share_q", "sentiment_diff", "prevalence_stability",
                   "finding", "badges"]].copy()
    view["label"] = view["label"].str.slice(0, 38)
    if shifts["theme_id"].duplicated().any():  # three or more waves: say which comparison each row is
        view.insert(1, "waves", shifts["wave_a"].astype(str) + "→" + shifts["wave_b"].astype(str))
    for c in ("share_a", "share_b", "share_diff"):
        view[c] = (100 * view[c]).round(0).astype("Int64").astype(str) + "%"
    view["share_q"] = view["share_q"].round(2)
    view["sentiment_diff"] = view["sentiment_diff"].round(2)
    view["prevalence_stability"] = (100 * view["prevalence_stability"]).round(0)
    lines.append(view.rename(columns={"share_q": "q", "sentiment_diff": "sent_diff",
                                      "prevalence_stability": "stable%"}).to_string(index=False))
    if a.stability is not None:
        for _, s in a.stability.summary.iterrows():
            lines.append(f"stability ({s['kind']}, {int(s['n_runs'])} runs): ARI mean {s['ari_mean']:.2f}, "
                         f"min {s['ari_min']:.2f}; {int(s['n_topics_min'])}-{int(s['n_topics_max'])} topics")
    lines.append("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in a.timings.items()))
    lines.append(f"report: {out / 'report.html'}")
    return "\n".join(lines)
