"""The curation loop: the themes file round-trips, edits apply to the saved assignment, bad files are
named, near-duplicates are found, promoted themes become codebook entries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tomllib

from stakeholder_nlp.themes import ThemeResult
from stakeholder_nlp.themes.curation import (
    ThemesFileError,
    apply_edits,
    assignment_table,
    near_duplicates,
    parse_themes_file,
    promoted,
    promoted_codebook_text,
    read_assignment,
    themes_file_text,
    themes_from_assignment,
)


def _result() -> ThemeResult:
    member = pd.DataFrame({"data": [1, 1, 0, 0, 0, 0], "emergent_0": [0, 0, 1, 1, 0, 0],
                           "emergent_1": [0, 0, 0, 0, 1, 1]}).astype(bool)
    scores = pd.DataFrame({"data": [0.9, 0.8, 0.1, 0.2, 0.1, 0.0], "emergent_0": member["emergent_0"] * 1.0,
                           "emergent_1": member["emergent_1"] * 1.0})
    themes = pd.DataFrame({"theme_id": ["data", "emergent_0", "emergent_1"],
                           "label": ["Data", "Waiting time", 'Car "parking"'], "kind": ["codebook", "topic", "topic"],
                           "n_quotes": [2, 2, 2], "terms": [[], ["wait", "time"], ["car", "park"]],
                           "representative": [[0, 1], [2, 3], [4, 5]]})
    return ThemeResult(themes, member, scores, np.array([-1, -1, 0, 0, 1, 1]), "hybrid", 0.5)


IDS = [f"q{i}" for i in range(6)]


def _saved(tmp_path, result=None):
    result = result or _result()
    (tmp_path / "themes.toml").write_text(themes_file_text(result, examples={"emergent_0": ["a quote"]}))
    assignment_table(result, IDS).to_csv(tmp_path / "assignment.csv", index=False)
    return tmp_path / "themes.toml"


def test_themes_file_round_trip_reproduces_the_themes(tmp_path):
    path = _saved(tmp_path)
    edits = parse_themes_file(path.read_text(), path=str(path))
    assert edits.ids == ["data", "emergent_0", "emergent_1"]
    assert edits.themes[2].label == 'Car "parking"'  # quoting survives
    assert edits.assignment == str((tmp_path / "assignment.csv").resolve())
    back = themes_from_assignment(read_assignment(edits.assignment, IDS), edits)
    ref = _result()
    assert back.themes["label"].tolist() == ref.themes["label"].tolist()
    assert back.membership.equals(ref.membership)
    np.testing.assert_allclose(back.scores.where(back.membership, 0), ref.scores.where(ref.membership, 0))
    assert back.primary() == ref.primary()
    assert back.topic_labels.tolist() == ref.topic_labels.tolist()


def _edit(path, theme_id, **fields):
    text = path.read_text()
    block = f'id = "{theme_id}"\n'
    i = text.index(block)
    j = text.index('action = "keep"\ninto = ""', i)
    new = "\n".join(f"{k} = \"{v}\"" for k, v in fields.items() if k in ("action", "into"))
    if "label" in fields:
        k = text.index("label = ", i)
        end = text.index("\n", k)
        text = text[:k] + f'label = "{fields["label"]}"' + text[end:]
        j = text.index('action = "keep"\ninto = ""', i)
    if new:
        text = text[:j] + (new if "into" in fields else new + '\ninto = ""') + text[j + len('action = "keep"\ninto = ""'):]
    path.write_text(text)


def test_rename_merge_drop_and_promote_apply_without_refitting(tmp_path):
    path = _saved(tmp_path)
    _edit(path, "emergent_1", action="merge", into="emergent_0")
    _edit(path, "emergent_0", label="Access and waiting")
    _edit(path, "data", action="drop")
    edits = parse_themes_file(path.read_text(), path=str(path))
    out = themes_from_assignment(read_assignment(edits.assignment, IDS), edits)
    assert out.theme_ids() == ["emergent_0"]
    assert out.themes["label"].tolist() == ["Access and waiting"]
    assert out.membership["emergent_0"].tolist() == [False, False, True, True, True, True]
    assert out.topic_labels.tolist() == [-1, -1, 0, 0, 0, 0]
    assert out.themes["n_quotes"].tolist() == [4]

    path = _saved(tmp_path)
    _edit(path, "emergent_1", action="promote")
    edits = parse_themes_file(path.read_text(), path=str(path))
    out = apply_edits(_result(), edits)
    assert out.themes.set_index("theme_id").loc["emergent_1", "kind"] == "codebook"
    book = tomllib.loads(promoted_codebook_text(out, promoted(edits), [f"text {i}" for i in range(6)]))
    assert book["theme"][0]["id"] == "car_parking" and book["theme"][0]["examples"] == ["text 4", "text 5"]


@pytest.mark.parametrize("change, message", [
    (('action = "keep"', 'action = "explode"'), "not one of"),
    (('into = ""', 'into = "nope"'), None),
    (('id = "emergent_1"', 'id = "emergent_0"'), "more than once"),
    (('label = "Data"', 'label = ""'), "non-empty"),
])
def test_malformed_themes_files_are_named_with_line(tmp_path, change, message):
    text = _saved(tmp_path).read_text().replace(*change, 1)
    if message is None:  # a merge target that does not exist
        text = text.replace('action = "keep"\ninto = "nope"', 'action = "merge"\ninto = "nope"', 1)
        message = "not a theme id"
    with pytest.raises(ThemesFileError, match=message) as err:
        parse_themes_file(text, path="t.toml")
    assert "t.toml" in str(err.value)


def test_merge_cycles_and_mismatched_assignments_are_refused(tmp_path):
    path = _saved(tmp_path)
    _edit(path, "emergent_0", action="merge", into="emergent_1")
    _edit(path, "emergent_1", action="merge", into="emergent_0")
    with pytest.raises(ThemesFileError, match="cycle"):
        parse_themes_file(path.read_text(), path=str(path))
    path = _saved(tmp_path)
    with pytest.raises(ThemesFileError, match="do not match"):
        read_assignment(tmp_path / "assignment.csv", IDS[:-1] + ["other"])


def test_near_duplicate_emergent_themes_are_found_and_flagged_in_the_file():
    r = _result()
    x = np.array([[1, 0, 0], [1, 0.1, 0], [0, 1, 0], [0, 1, 0.05], [0, 1, 0.1], [0.05, 1, 0]], dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    near = near_duplicates(r, x, threshold=0.95)
    assert near[["theme_a", "theme_b"]].values.tolist() == [["emergent_0", "emergent_1"]]
    assert "NEAR-DUPLICATE of emergent_1" in themes_file_text(r, near=near)
    assert near_duplicates(r, x, threshold=0.9999).empty
