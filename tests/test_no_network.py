"""No network at run time, proven: ``analyze`` on the default backend succeeds with every socket creation and
name lookup blocked (a ``sitecustomize`` loaded into the process), and, where we may make one, inside a
network namespace with no interfaces (``unshare -n``). Telemetry consent is given in the temporary home
(``~/intel/openvino_telemetry``), so OpenVINO/NNCF telemetry would run if it were imported as is: it must
write nothing there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BLOCKER = textwrap.dedent("""
    import os, socket, sys
    _log = os.environ["NO_NETWORK_LOG"]
    def _refuse(what):
        def refuse(*args, **kwargs):
            caller = sys._getframe(2 if what == "socket" else 1).f_code
            with open(_log, "a") as fh:
                fh.write(f"{what} {args[:2]!r} from {caller.co_filename}:{caller.co_name}\\n")
            raise OSError(f"network blocked by test_no_network ({what})")
        return refuse
    class _NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            _refuse("socket")(*args)
    socket.socket = _NoSocket
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "create_connection", "socketpair"):
        setattr(socket, name, _refuse(name))
""")


def _corpus(path: Path) -> Path:
    words = "data practice nurse team access time cluster meeting budget patient care support".split()
    rows = []
    for w, wave in enumerate((2016, 2021)):
        for i in range(12):
            text = " ".join(words[(i * 5 + k * (3 + w)) % len(words)] for k in range(7))
            rows.append({"quote_id": f"{wave}-{i}", "text": f"{text} {i}", "speaker": f"s{i % 4}", "wave": wave})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory, fast_embedder):
    """The environment of an offline ``analyze``: blocked sockets, a consenting home, the built models."""
    from stakeholder_nlp.embedding.paths import default_cache_dir

    tmp = tmp_path_factory.mktemp("offline")
    (tmp / "site").mkdir()
    (tmp / "site" / "sitecustomize.py").write_text(BLOCKER)
    home = tmp / "home"
    (home / "intel").mkdir(parents=True)
    (home / "intel" / "openvino_telemetry").write_text("1")  # consent given: telemetry would be live
    env = {**os.environ, "PYTHONPATH": str(tmp / "site"), "HOME": str(home), "NO_NETWORK_LOG": str(tmp / "net.log"),
           "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0"}
    cmd = [sys.executable, "-c", "from stakeholder_nlp.cli import app; app()", "analyze", str(_corpus(tmp / "q.jsonl")),
           "--runs", "0", "--n-boot", "50", "--cache", str(default_cache_dir())]
    return tmp, env, cmd


def _check(tmp: Path, out: Path, res: subprocess.CompletedProcess) -> None:
    assert res.returncode == 0, res.stderr[-3000:]
    assert (out / "run.json").exists() and (out / "quotes.csv").exists()
    log = tmp / "net.log"
    attempts = log.read_text().splitlines() if log.exists() else []
    # urllib3 probes at import whether IPv6 exists by binding a socket to ::1 (loopback, no traffic);
    # blocked like every socket, and harmless. Anything else would be an attempt to reach the network.
    assert [a for a in attempts if not a.endswith("urllib3/util/connection.py:_has_ipv6")] == []
    assert sorted(p.name for p in (tmp / "home" / "intel").iterdir()) == ["openvino_telemetry"]


def _netns() -> list[str]:
    """``unshare -n`` (a network namespace without interfaces) where this machine lets us make one."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


@pytest.mark.slow
def test_analyze_succeeds_with_all_socket_creation_blocked_and_no_network_interface(offline_run):
    """One run proves both: Python cannot create a socket, and (where possible) the process has no network."""
    tmp, env, cmd = offline_run
    probe = subprocess.run([sys.executable, "-c", "import socket; socket.socket()"], env=env, capture_output=True,
                           text=True)
    assert probe.returncode != 0 and "network blocked" in probe.stderr  # the blocker is really loaded
    (tmp / "net.log").unlink()
    out = tmp / "out"
    res = subprocess.run([*_netns(), *cmd, "--out", str(out)], env=env, capture_output=True, text=True, cwd=ROOT,
                         timeout=1200)
    _check(tmp, out, res)
