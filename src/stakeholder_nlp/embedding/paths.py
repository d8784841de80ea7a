"""Where the embedding cache and the built model files live by default: a per-user cache folder
(``platformdirs.user_cache_dir("stakeholder-nlp")``, e.g. ``~/.cache/stakeholder-nlp`` on Linux), or the
folder named by the ``STAKEHOLDER_NLP_CACHE`` environment variable; never the working directory.
Every API and command that uses a cache also takes an explicit folder (``cache_dir=``, ``--cache``)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "STAKEHOLDER_NLP_CACHE"


def default_cache_dir() -> Path:
    """The cache folder to use when none is given (read at call time, created by whoever writes to it)."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("stakeholder-nlp", appauthor=False))
