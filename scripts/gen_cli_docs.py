"""Write docs/cli.md from the command line itself (every command, argument and option, with its help text).

    .venv/bin/python scripts/gen_cli_docs.py            # rewrite docs/cli.md
    .venv/bin/python scripts/gen_cli_docs.py --check    # exit 1 if docs/cli.md is out of date

``tests/test_cli_docs.py`` runs the check, so the page cannot drift from ``stakeholder-nlp --help``.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "cli.md"
PROG = "stakeholder-nlp"


_NAMES = {"Path": "path", "str": "text", "int": "integer", "float": "number", "bool": "flag"}


def _type_name(param) -> str:
    ann = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if ann is None:
        return ""
    if isinstance(ann, types.UnionType) or typing.get_origin(ann) is typing.Union:
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        ann = args[0] if len(args) == 1 else ann
    if typing.get_origin(ann) is list:
        (inner,) = typing.get_args(ann) or (str,)
        inner = getattr(inner, "__name__", str(inner))
        return f"{_NAMES.get(inner, inner)}, repeatable"
    name = getattr(ann, "__name__", str(ann))
    return _NAMES.get(name, name)


def _default(param) -> str:
    if param.required:
        return "required"
    d = param.default
    if getattr(param, "is_flag", False) and getattr(param, "secondary_opts", None):
        return f"`{param.opts[0] if d else param.secondary_opts[0]}`"
    if getattr(param, "is_flag", False):
        return "off" if not d else "on"
    if d is None or d == [] or d == ():
        return ""
    return f"`{d}`"


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def _usage(path: list[str], cmd) -> str:
    args = []
    for p in cmd.params:
        if type(p).__name__.endswith("Argument"):
            name = p.name.upper() + ("..." if p.nargs == -1 else "")
            args.append(name if p.required else f"[{name}]")
    return " ".join([PROG, *path, "[OPTIONS]", *args])


def _command(path: list[str], cmd) -> list[str]:
    lines = [f"## {' '.join([PROG, *path])}", "", _cell(cmd.help), "", "```", _usage(path, cmd), "```", ""]
    rows = []
    for p in cmd.params:
        if getattr(p, "hidden", False):
            continue
        is_arg = type(p).__name__.endswith("Argument")
        names = p.name.upper() if is_arg else " / ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
        rows.append(f"| {names} | {_type_name(p)} | {_default(p)} | {_cell(p.help)} |")
    if rows:
        lines += ["| argument / option | type | default | what it does |", "|---|---|---|---|", *rows, ""]
    return lines


def _walk(group, path: list[str]) -> list[tuple[list[str], object]]:
    out = []
    for name in group.list_commands(None):
        cmd = group.commands[name]
        if getattr(cmd, "hidden", False):
            continue
        if hasattr(cmd, "commands"):
            out += _walk(cmd, [*path, name])
        else:
            out.append(([*path, name], cmd))
    return out


def generate() -> str:
    """The text of docs/cli.md."""
    from typer.main import get_command

    from stakeholder_nlp.cli import app

    root = get_command(app)
    commands = _walk(root, [])
    lines = ["# Command line reference", "",
             "Generated from the command line itself by `scripts/gen_cli_docs.py` (do not edit by hand; "
             "`tests/test_cli_docs.py` fails when this page and `stakeholder-nlp --help` differ).", "",
             _cell(root.help), "", "| command | what it does |", "|---|---|"]
    for path, cmd in commands:
        title = " ".join([PROG, *path])
        anchor = title.lower().replace(" ", "-")
        first = _cell(cmd.help).split(". ")[0].rstrip(".")
        lines.append(f"| [`{' '.join(path)}`](#{anchor}) | {first}. |")
    lines.append("")
    for path, cmd in commands:
        lines += _command(path, cmd)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/cli.md differs from the generated text")
    args = ap.parse_args(argv)
    text = generate()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is out of date: run .venv/bin/python scripts/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
