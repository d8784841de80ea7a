"""The curation loop: a themes file (TOML) the researcher edits, and applying it without refitting.

``analyze`` writes ``themes.toml`` (one ``[[theme]]`` table per theme) and ``assignment.csv`` (which quote
carries which theme, with its score) beside the report. The researcher edits the themes file:

* ``label = "..."``: rename;
* ``action = "drop"``: the theme is removed (its quotes keep their other themes, or become uncoded);
* ``action = "merge"`` with ``into = "<theme id>"``: its quotes join the other theme;
* ``action = "promote"``: an emergent theme becomes a codebook theme; its codebook entry (the label as
  name, ``description`` if given, the most central quotes as examples) is written to
  ``promoted_codebook.toml`` for the next ``--codebook`` run.

``[[subtheme]]`` tables beneath a theme (:mod:`~.subthemes`): a new label renames; ``action = "drop"`` keeps
its quotes in the theme only; ``action = "merge"``, ``into = "<sibling id>"``; ``action = "promote"``: the
subtheme becomes a top-level theme of the same id (:func:`promote_subthemes`; its quotes' primary theme changes).

``analyze INPUT --themes themes.toml`` reads the saved assignment, applies the edits and recomputes the
statistics (embeddings come from the cache; nothing is refitted). :func:`near_duplicates` finds emergent
themes so alike that they are probably one theme: the themes file says so next to each.

Assignment file (:data:`ASSIGNMENT_FIXED_COLUMNS`, then one column per theme id): ``quote_id``, ``topic``
(inductive topic number, -1 none), ``subtheme`` and ``subtheme_label`` (:data:`ASSIGNMENT_SUBTHEME_COLUMNS`,
where the run had subthemes: :mod:`~.subthemes`), and per theme the quote's score where it carries the theme,
empty where it does not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import tomllib

from ..errors import StakeholderNLPError
from .assign import THEME_COLUMNS, ThemeResult
from .codebook import theme_table_lines

ACTIONS = ("keep", "drop", "merge", "promote")
ASSIGNMENT_FIXED_COLUMNS = ("quote_id", "topic")
#: written after the fixed columns when the run has subthemes (not theme ids)
ASSIGNMENT_SUBTHEME_COLUMNS = ("subtheme", "subtheme_label")
#: columns of :func:`near_duplicates`
NEAR_DUPLICATE_COLUMNS = ("theme_a", "theme_b", "label_a", "label_b", "cosine")


class ThemesFileError(StakeholderNLPError, ValueError):
    """A themes file or its assignment is malformed or does not match the corpus."""


@dataclass(frozen=True, slots=True)
class ThemeEdit:
    id: str
    label: str
    kind: str = "topic"
    action: str = "keep"
    into: str = ""
    description: str = ""
    terms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ThemesFile:
    themes: tuple[ThemeEdit, ...]
    assignment: str | None = None
    path: str | None = None
    #: the ``[[subtheme]]`` tables (:class:`~.subthemes.SubthemeEdit`)
    subthemes: tuple = ()

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.themes]


def _q(s: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML escapes)."""
    return json.dumps(str(s), ensure_ascii=False)


def themes_file_text(result: ThemeResult, *, assignment: str = "assignment.csv",
                     examples: Mapping[str, Sequence[str]] | None = None,
                     near: pd.DataFrame | None = None, source: str | None = None, subthemes=None) -> str:
    """The themes file for ``result``: edit ``label``/``action``/``into`` and rerun with ``--themes``.
    ``subthemes`` (a :class:`~.subthemes.SubthemeResult`): each theme's ``[[subtheme]]`` tables beneath it."""
    lines = [
        "# Themes found by stakeholder-nlp analyze" + (f" in {source}" if source else "") + ".",
        "# Edit, then rerun: stakeholder-nlp analyze INPUT --out DIR --themes THIS_FILE",
        "# (statistics are recomputed from the saved assignment; nothing is refitted or re-embedded).",
        "#   label = \"...\"                           rename the theme",
        "#   action = \"drop\"                         remove it (its quotes keep their other themes)",
        "#   action = \"merge\", into = \"<theme id>\"   fold its quotes into another theme",
        "#   action = \"promote\"                      make an emergent theme a codebook theme",
        "#                                           (written to promoted_codebook.toml; add a description)",
        "# [[subtheme]] tables (beneath their theme): a new label renames, action = \"drop\" keeps its quotes",
        "# in the theme only, action = \"merge\", into = \"<sibling subtheme id>\" folds them into a sibling,",
        "# action = \"promote\" makes it a top-level theme (its quotes' primary theme; same id and label).",
        "",
        "[analysis]",
        f"assignment = {_q(assignment)}",
        "",
    ]
    dup: dict[str, list[str]] = {}
    if near is not None:
        for _, r in near.iterrows():
            dup.setdefault(r["theme_a"], []).append(f"{r['theme_b']} (cosine {r['cosine']:.2f})")
            dup.setdefault(r["theme_b"], []).append(f"{r['theme_a']} (cosine {r['cosine']:.2f})")
    for _, row in result.themes.iterrows():
        tid = row["theme_id"]
        lines += ["[[theme]]", f"id = {_q(tid)}", f"label = {_q(row['label'])}", f"kind = {_q(row['kind'])}",
                  'action = "keep"', 'into = ""']
        if row.get("description"):
            lines.append(f"description = {_q(row['description'])}")
        terms = list(row["terms"]) if isinstance(row["terms"], list | tuple) else []
        if terms:
            lines.append("terms = [" + ", ".join(_q(t) for t in terms[:10]) + "]  # c-TF-IDF terms, for reference")
        lines.append(f"# {int(row['n_quotes'])} quotes")
        if isinstance(row.get("term_label"), str) and row["term_label"] != row["label"]:
            lines.append(f"# term label: {row['term_label']}")
        for other in dup.get(tid, []):
            lines.append(f"# NEAR-DUPLICATE of {other}: consider action = \"merge\", into = "
                         f"\"{other.split(' ')[0]}\"")
        for ex in list((examples or {}).get(tid, []))[:3]:
            ex = " ".join(str(ex).split())
            lines.append("#   e.g. " + (ex if len(ex) <= 160 else ex[:157] + "..."))
        lines.append("")
        if subthemes is not None:
            from .subthemes import subtheme_file_lines

            lines += subtheme_file_lines(subthemes, tid)
    return "\n".join(lines)


def parse_themes_file(text: str, *, path: str | None = None) -> ThemesFile:
    """Parse and check a themes file; errors name the file, line and field."""
    where = path or "<themes file>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThemesFileError(f"{where}: not valid TOML: {exc}") from exc
    raw = data.get("theme")
    if not isinstance(raw, list) or not raw:
        raise ThemesFileError(f"{where}: no [[theme]] tables; expected the file written by analyze")
    lines = theme_table_lines(text)
    edits: list[ThemeEdit] = []
    for k, t in enumerate(raw):
        at = f"{where}, line {lines[k]}" if k < len(lines) else f"{where}, theme #{k + 1}"
        for key in ("id", "label"):
            if not isinstance(t.get(key), str) or not t[key].strip():
                raise ThemesFileError(f"{at}: field {key!r} must be a non-empty string")
        action = str(t.get("action", "keep")).strip().lower()
        if action not in ACTIONS:
            raise ThemesFileError(f"{at}: action {action!r} is not one of {ACTIONS}")
        into = str(t.get("into", "")).strip()
        if action == "merge" and not into:
            raise ThemesFileError(f"{at}: action \"merge\" needs into = \"<theme id>\"")
        edits.append(ThemeEdit(t["id"].strip(), t["label"].strip(), str(t.get("kind", "topic")), action, into,
                               str(t.get("description", "")).strip(), tuple(str(x) for x in t.get("terms", []))))
    ids = [e.id for e in edits]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ThemesFileError(f"{where}: theme id(s) {dupes} appear more than once")
    for k, e in enumerate(edits):
        at = f"{where}, line {lines[k]}" if k < len(lines) else f"{where}, theme #{k + 1}"
        if e.action == "merge":
            if e.into == e.id:
                raise ThemesFileError(f"{at}: theme {e.id!r} cannot merge into itself")
            if e.into not in ids:
                raise ThemesFileError(f"{at}: merge target {e.into!r} is not a theme id; ids are {ids}")
    # merge chains end at a theme that is kept or promoted
    by_id = {e.id: e for e in edits}
    for e in edits:
        seen = {e.id}
        cur = e
        while cur.action == "merge":
            cur = by_id[cur.into]
            if cur.id in seen:
                raise ThemesFileError(f"{where}: merges form a cycle through {sorted(seen)}")
            seen.add(cur.id)
        if cur.action == "drop" and e.action == "merge":
            raise ThemesFileError(f"{where}: theme {e.id!r} merges into {cur.id!r}, which is dropped")
    analysis = data.get("analysis", {})
    assignment = analysis.get("assignment") if isinstance(analysis, dict) else None
    if assignment is not None and path is not None:
        assignment = str((Path(path).parent / assignment).resolve())
    from .subthemes import parse_subtheme_edits

    try:
        sub_edits = parse_subtheme_edits(data.get("subtheme"), where)
    except ValueError as exc:
        raise ThemesFileError(str(exc)) from exc
    return ThemesFile(tuple(edits), assignment, path, sub_edits)


def load_themes_file(path: str | Path) -> ThemesFile:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"themes file {p} does not exist (analyze writes themes.toml into --out)")
    return parse_themes_file(p.read_text(encoding="utf-8"), path=str(p))


def assignment_table(result: ThemeResult, quote_ids: Sequence[str], subthemes=None) -> pd.DataFrame:
    """The saved assignment: ``quote_id``, ``topic``, then (given ``subthemes``, a
    :class:`~.subthemes.SubthemeResult`) ``subtheme`` and ``subtheme_label``, then per theme the score where
    the quote carries it."""
    cols = {"quote_id": list(quote_ids), "topic": np.asarray(result.topic_labels, dtype=np.int64)}
    if subthemes is not None:
        cols.update({c: subthemes.quotes[c].to_numpy() for c in ASSIGNMENT_SUBTHEME_COLUMNS})
    for tid in result.theme_ids():
        cols[tid] = result.scores[tid].where(result.membership[tid]).to_numpy(dtype=float)
    return pd.DataFrame(cols)


def read_assignment(path: str | Path, quote_ids: Sequence[str]) -> pd.DataFrame:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"assignment file {p} does not exist; it is written by analyze beside "
                                "themes.toml")
    df = pd.read_csv(p, dtype={"quote_id": str})
    missing = [c for c in ASSIGNMENT_FIXED_COLUMNS if c not in df.columns]
    if missing:
        raise ThemesFileError(f"{p}: lacks column(s) {missing}; found {list(df.columns)[:8]}")
    ids = [str(q) for q in quote_ids]
    saved = df["quote_id"].tolist()
    if saved != ids:
        extra = sorted(set(saved) - set(ids))[:5]
        lacking = sorted(set(ids) - set(saved))[:5]
        raise ThemesFileError(f"{p}: its quotes do not match this corpus (after setting non-responses aside): "
                              f"{len(saved)} saved vs {len(ids)} now; only in the file: {extra}; only in the "
                              f"corpus: {lacking}. Rerun analyze without --themes, or with the same input and "
                              "options.")
    return df


def themes_from_assignment(df: pd.DataFrame, edits: ThemesFile) -> ThemeResult:
    """Rebuild a :class:`ThemeResult` from the saved assignment, then apply the edits."""
    n = len(df)
    missing = [e.id for e in edits.themes if e.id not in df.columns]
    if missing:
        raise ThemesFileError(f"{edits.path or 'themes file'}: theme(s) {missing} are not in the assignment "
                              f"{edits.assignment}; ids there: {[c for c in df.columns if c not in ASSIGNMENT_FIXED_COLUMNS + ASSIGNMENT_SUBTHEME_COLUMNS]}")
    members, scores, rows = {}, {}, []
    for e in edits.themes:
        s = df[e.id].to_numpy(dtype=float)
        members[e.id] = np.isfinite(s)
        scores[e.id] = np.nan_to_num(s, nan=0.0)
        idx = np.flatnonzero(members[e.id])
        rows.append({"theme_id": e.id, "label": e.label, "kind": e.kind, "n_quotes": int(len(idx)),
                     "terms": list(e.terms), "representative": idx[np.argsort(-scores[e.id][idx], kind="stable")][:5].tolist()})
    base = ThemeResult(pd.DataFrame(rows, columns=list(THEME_COLUMNS)),
                       pd.DataFrame(members, index=pd.RangeIndex(n)).astype(bool),
                       pd.DataFrame(scores, index=pd.RangeIndex(n)),
                       df["topic"].to_numpy(dtype=np.int64), "curated")
    return apply_edits(promote_subthemes(base, df, edits), edits)


def promote_subthemes(result: ThemeResult, df: pd.DataFrame, edits: ThemesFile) -> ThemeResult:
    """Every ``[[subtheme]]`` with ``action = "promote"`` becomes a top-level theme of the same id and its
    label, listed after its parent: its quotes (the saved assignment's ``subtheme`` column) leave the parent
    and take it as their primary theme (their score is the highest of their themes', nudged above it), and
    keep any other theme they carry. Applied before the theme edits, so it holds whatever the parent's action."""
    promote = [e for e in edits.subthemes if e.action == "promote"]
    if not promote:
        return result
    where = edits.path or "themes file"
    if "subtheme" not in df.columns:
        raise ThemesFileError(f"{where}: promotes subtheme(s) {[e.id for e in promote]}, but the assignment "
                              f"{edits.assignment} has no subtheme column; use the files of the run that found them")
    saved = df["subtheme"].fillna("").astype(str).to_numpy(dtype=object)
    members, scores = result.membership.copy(), result.scores.copy()
    rows = {r["theme_id"]: r for r in result.themes.to_dict("records")}
    order = list(members.columns)
    for e in promote:
        if e.id in members.columns:
            raise ThemesFileError(f"{where}: subtheme {e.id!r} is promoted, but a theme has that id already")
        if e.parent not in members.columns:
            raise ThemesFileError(f"{where}: subtheme {e.id!r} is promoted from {e.parent!r}, which is not a theme "
                                  f"of the assignment; themes are {list(members.columns)}")
        on = saved == e.id
        if not on.any():
            raise ThemesFileError(f"{where}: subtheme {e.id!r} is promoted, but no quote of the assignment "
                                  f"{edits.assignment} is in it")
        carried = np.where(members.to_numpy(dtype=bool), scores[members.columns].to_numpy(float), -np.inf).max(1)
        best = np.nextafter(np.where(np.isfinite(carried), carried, 0.0), np.inf)
        members[e.parent] = members[e.parent].to_numpy(dtype=bool) & ~on
        members[e.id] = on
        scores[e.id] = np.where(on, best, 0.0)
        order.insert(order.index(e.parent) + 1, e.id)
        idx = np.flatnonzero(on)
        rows[e.id] = {"theme_id": e.id, "label": e.label, "kind": "topic", "n_quotes": int(on.sum()), "terms": [],
                      "representative": idx[np.argsort(-scores[e.id].to_numpy()[idx], kind="stable")][:5].tolist()}
        rows[e.parent] = {**rows[e.parent], "n_quotes": int(members[e.parent].sum())}
    themes = pd.DataFrame([rows[t] for t in order], columns=list(result.themes.columns))
    return replace(result, themes=themes, membership=members[order].astype(bool), scores=scores[order])


def _topic_number(tid: str) -> int | None:
    m = re.match(r"^(?:topic|emergent)_(\d+)$", tid)
    return int(m.group(1)) if m else None


def apply_edits(result: ThemeResult, edits: ThemesFile) -> ThemeResult:
    """Rename, merge, drop and promote themes of ``result`` as the themes file says."""
    by_id = {e.id: e for e in edits.themes}
    unknown = [i for i in by_id if i not in result.membership.columns]
    if unknown:
        raise ThemesFileError(f"{edits.path or 'themes file'}: unknown theme id(s) {unknown}")

    def target(tid: str) -> str:
        cur = by_id.get(tid)
        while cur is not None and cur.action == "merge":
            cur = by_id[cur.into]
        return cur.id if cur is not None else tid

    members = result.membership.copy()
    scores = result.scores.copy()
    topics = np.asarray(result.topic_labels).copy()
    for tid in result.theme_ids():
        e = by_id.get(tid)
        if e is None:
            continue
        if e.action == "merge":
            to = target(tid)
            members[to] = members[to] | members[tid]
            scores[to] = np.maximum(scores[to].to_numpy(), scores[tid].where(members[tid], 0.0).to_numpy())
            a, b = _topic_number(tid), _topic_number(to)
            if a is not None:
                topics[topics == a] = b if b is not None else -1
        elif e.action == "drop":
            a = _topic_number(tid)
            if a is not None:
                topics[topics == a] = -1
    keep = [t for t in result.theme_ids() if by_id.get(t) is None or by_id[t].action in ("keep", "promote")]
    rows = []
    old = result.themes.set_index("theme_id")
    for tid in keep:
        e = by_id.get(tid)
        m = members[tid].to_numpy()
        idx = np.flatnonzero(m)
        row = {"theme_id": tid, "label": e.label if e else old.loc[tid, "label"],
               "kind": "codebook" if e and e.action == "promote" else (e.kind if e else old.loc[tid, "kind"]),
               "n_quotes": int(m.sum()), "terms": list(old.loc[tid, "terms"]) if isinstance(
                   old.loc[tid, "terms"], list | tuple) else [],
               "representative": idx[np.argsort(-scores[tid].to_numpy()[idx], kind="stable")][:5].tolist()}
        rows.append(row)
    themes = pd.DataFrame(rows, columns=list(THEME_COLUMNS))
    return replace(result, themes=themes, membership=members[keep].astype(bool), scores=scores[keep],
                   topic_labels=topics)


def promoted(edits: ThemesFile) -> dict[str, str]:
    """Theme id -> description of the themes the file promotes to the codebook."""
    return {e.id: e.description for e in edits.themes if e.action == "promote"}


def promoted_codebook_text(result: ThemeResult, promoted: Mapping[str, str], texts: Sequence[str]) -> str:
    """Codebook TOML entries for the promoted themes ("" when none): name, description, central quotes."""
    ids = [t for t in promoted if t in result.membership.columns]
    if not ids:
        return ""
    info = result.themes.set_index("theme_id")
    out = ["# Themes promoted from emergent to codebook themes; append to your codebook and edit.", ""]
    for tid in ids:
        label = str(info.loc[tid, "label"])
        slug = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_") or tid
        if not slug[0].isalpha():
            slug = "t_" + slug
        examples = [" ".join(str(texts[i]).split()) for i in list(info.loc[tid, "representative"])[:5]]
        out += ["[[theme]]", f"id = {_q(slug)}", f"name = {_q(label)}",
                f"description = {_q(promoted[tid] or label)}",
                "examples = [" + ", ".join(_q(x) for x in examples) + "]", ""]
    return "\n".join(out)


def near_duplicates(result: ThemeResult, embeddings: np.ndarray, *, threshold: float = 0.9,
                    kinds: Sequence[str] = ("topic",)) -> pd.DataFrame:
    """Pairs of themes (of ``kinds``) whose member centroids have cosine similarity >= ``threshold``."""
    x = np.asarray(embeddings, dtype=np.float32)
    tids = [r["theme_id"] for _, r in result.themes.iterrows() if r["kind"] in kinds]
    labels = dict(zip(result.themes["theme_id"], result.themes["label"], strict=True))
    cents = {}
    for tid in tids:
        m = result.membership[tid].to_numpy()
        if m.any():
            c = x[m].mean(0)
            cents[tid] = c / (np.linalg.norm(c) or 1.0)
    rows = []
    ids = list(cents)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            cos = float(cents[a] @ cents[b])
            if cos >= threshold:
                rows.append({"theme_a": a, "theme_b": b, "label_a": labels[a], "label_b": labels[b],
                             "cosine": round(cos, 4)})
    df = pd.DataFrame(rows, columns=list(NEAR_DUPLICATE_COLUMNS))
    return df.sort_values("cosine", ascending=False, kind="stable").reset_index(drop=True)


#: columns of the per-quote state saved beside the assignment so that a curation rerun neither
#: lemmatises nor scores sentiment again: ``quote_id``, ``text_sha256`` (the quote must be unchanged),
#: ``lemmas``, ``scorer`` (the sentiment scorer's name), then the scorer's per-quote detail columns
STATE_FIXED_COLUMNS = ("quote_id", "text_sha256", "lemmas", "scorer")
STATE_FILE = "curation_state.parquet"


def _sha(texts: Sequence[str]) -> list[str]:
    import hashlib

    return [hashlib.sha256(str(t).encode("utf-8")).hexdigest() for t in texts]


def state_table(quote_ids: Sequence[str], texts: Sequence[str], lemmas: Sequence[str], scorer: str,
                sentiment_detail: pd.DataFrame | None) -> pd.DataFrame:
    """The state a curation rerun reuses (see :data:`STATE_FIXED_COLUMNS`)."""
    df = pd.DataFrame({"quote_id": [str(i) for i in quote_ids], "text_sha256": _sha(texts),
                       "lemmas": list(lemmas), "scorer": scorer})
    if sentiment_detail is not None:
        detail = sentiment_detail.drop(columns=["quote_id"], errors="ignore").reset_index(drop=True)
        df = pd.concat([df, detail], axis=1)
    return df


def read_state(edits: ThemesFile, quote_ids: Sequence[str], texts: Sequence[str]) -> pd.DataFrame | None:
    """The saved state beside the themes file's assignment, or None when there is none or it does not
    match the corpus quote for quote (then the rerun recomputes lemmas and sentiment)."""
    if edits.assignment is None:
        return None
    path = Path(edits.assignment).parent / STATE_FILE
    if not path.is_file():
        return None
    try:
        df = pd.read_parquet(path)
    except Exception:  # an unreadable state is only a missed shortcut
        return None
    if (list(df.columns[: len(STATE_FIXED_COLUMNS)]) != list(STATE_FIXED_COLUMNS)
            or df["quote_id"].astype(str).tolist() != [str(i) for i in quote_ids]
            or df["text_sha256"].tolist() != _sha(texts)):
        return None
    return df.reset_index(drop=True)
