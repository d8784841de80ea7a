"""Imports every command module of the CLI package so that each registers its commands on ``app``.

Add one line per new command module; the order of the lines is the order of ``stakeholder-nlp --help``.
Each module imports only typer and the package's light modules at the top; heavy libraries are imported
inside the commands (``stakeholder-nlp --help`` loads no numpy, pandas or model runtime).
"""

# isort: skip_file
from __future__ import annotations

from . import corpus  # noqa: F401
from . import embed  # noqa: F401
from . import themes  # noqa: F401
from . import analyze  # noqa: F401
from . import stability  # noqa: F401
from . import ingest  # noqa: F401
from . import sentiment_labels  # noqa: F401
