"""Imports every command module of the CLI package so that each registers its commands on ``app``.

Add one line per new command module (e.g. ``from . import ingest``).
"""

from __future__ import annotations

from . import (
    ingest,  # noqa: E402,F401
    sentiment_labels,  # noqa: E402,F401
)
