"""Data flows one way: a stage imports only stages to its left (pipeline, report and cli may use all)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "stakeholder_nlp"
LAYERS = ["errors", "corpus", "embedding", "themes", "shift", "sentiment", "change", "stability", "pipeline", "report", "cli"]


def _layer(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    own = _layer(path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 0 and not mod.startswith("stakeholder_nlp"):
                continue
            if node.level == 0:
                parts = mod.split(".")[1:]
            else:
                base = path.relative_to(PKG).parts[:-1]
                up = node.level - 1
                base = base[: len(base) - up] if up else base
                parts = list(base) + (mod.split(".") if mod else [])
            if parts:
                found.add(parts[0].removesuffix(".py"))
            else:
                found.update(a.name for a in node.names)
    return {f for f in found if f in LAYERS and f != own}


def test_each_stage_imports_only_stages_to_its_left():
    bad = []
    for path in PKG.rglob("*.py"):
        if path.name == "__init__.py" and path.parent == PKG:
            continue
        own = _layer(path)
        if own not in LAYERS:
            continue
        for dep in _imported_layers(path):
            if LAYERS.index(dep) > LAYERS.index(own):
                bad.append(f"{path.relative_to(PKG)} imports {dep}")
    assert not bad, bad
