"""Imports every command module of the CLI package so that each registers its commands on ``app``.

Add the new command module's name to :data:`COMMAND_MODULES`; their order is the order of ``--help``.
"""

from __future__ import annotations

from importlib import import_module

#: one module per command group, in the order ``stakeholder-nlp --help`` lists them
COMMAND_MODULES = ("corpus", "embed", "themes", "analyze", "stability", "ingest", "sentiment_labels")

for _name in COMMAND_MODULES:
    import_module(f"{__package__}.{_name}")
