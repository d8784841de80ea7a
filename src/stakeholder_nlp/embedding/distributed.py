"""Model passes on a Ray cluster: :class:`RayExecutor`, an :class:`~.executor.Executor` whose units run as
Ray Data ``map_batches`` on a fixed pool of actors (``ActorPoolStrategy``).

What travels: the model, pickled as the arguments that rebuild it (for the shipped models, the path of their
files: every node must hold the same model files at the same path), and each unit (a list of texts, or a
block of vectors), pickled. Each actor rebuilds the model once and calls it on one unit per batch, so every
model call is the one the single-process run makes; the driver puts the results back in order and computes
everything else (themes, statistics, report). See ``docs/cluster.md``.

``address``: ``"local"`` starts a Ray instance on this machine (``workers`` CPUs) and shuts it down on
:meth:`close`; anything else (``"ray://head:10001"``, ``"head:6379"``, ``"auto"``) connects to a running
cluster, as ``ray.init(address=...)`` does. Before ``ray.init`` the executor sets
``RAY_USAGE_STATS_ENABLED=0`` (Ray otherwise reports usage statistics off the machine); a local instance
takes 127.0.0.1 as its node address and starts no dashboard (its processes still open TCP ports, as Ray's
do: ``docs/cluster.md``).
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import StakeholderNLPError
from .base import Embedder

__all__ = ["ClusterError", "RayExecutor", "embed_with_ray"]

logger = logging.getLogger(__name__)


class ClusterError(StakeholderNLPError, RuntimeError):
    """The Ray cluster could not be reached or started; the message names the address and how to fix it."""


class _UnitActor:
    """One actor of the pool: rebuilds the model once, then runs one unit per call."""

    def __init__(self, model_blob: bytes, method: str, kwargs: dict) -> None:
        self.fn = getattr(pickle.loads(model_blob), method)
        self.kwargs = kwargs

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = [pickle.dumps(self.fn(pickle.loads(p), **self.kwargs), protocol=5) for p in batch["payload"]]
        out = np.empty(len(results), dtype=object)
        out[:] = results
        return {"unit": np.asarray(batch["unit"], dtype=np.int64), "result": out}


class RayExecutor:
    """Runs model passes on a Ray cluster (``address``; ``"local"``: a Ray instance on this machine).

    ``workers``: actors per pass (each holds one copy of the model); ``cpus_per_worker``: the CPUs Ray
    reserves for each; ``progress``: Ray Data's progress bars and execution banners. Use as a context manager, or call :meth:`start` and :meth:`close`."""

    name = "ray"

    def __init__(self, address: str = "local", *, workers: int = 2, cpus_per_worker: float = 1.0,
                 progress: bool = False) -> None:
        self.address = address
        self.workers = workers
        self.cpus_per_worker = cpus_per_worker
        self.progress = progress
        self._owned = False
        self._started = False

    def start(self) -> RayExecutor:
        if self._started:
            return self
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1; got {self.workers}")
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # before ray.init: no usage report leaves the machine
        import ray

        if ray.is_initialized():  # the caller's own ray.init: use it, leave it running
            self._started = True
            return self
        kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        try:
            if self.address == "local":
                ray.init(address="local", num_cpus=max(1, int(np.ceil(self.workers * self.cpus_per_worker))),
                         _node_ip_address="127.0.0.1", **kw)
            else:
                ray.init(address=self.address, **kw)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ClusterError(f"cannot connect to the Ray cluster at {self.address!r} ({type(exc).__name__}: "
                               f"{exc}); start it with `ray start --head` on the head node (docs/cluster.md), "
                               "or use --ray local for a Ray instance on this machine") from exc
        self._owned = self._started = True
        logger.info("ray: %s, %s", self.address, ray.cluster_resources())
        return self

    def close(self) -> None:
        if self._owned:
            import ray

            ray.shutdown()
        self._owned = self._started = False

    def __enter__(self) -> RayExecutor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def map(self, model: Any, method: str, units: Sequence[Any], **kwargs: Any) -> Iterator[tuple[int, Any]]:
        """Each unit through ``getattr(model, method)(unit, **kwargs)`` on the actor pool; ``(index, result)``
        pairs as they come back."""
        if not len(units):
            return
        self.start()
        import ray.data

        ctx = ray.data.DataContext.get_current()  # this driver's Ray Data settings: no progress bars or banners
        ctx.enable_progress_bars = ctx.enable_operator_progress_bars = self.progress
        ctx.print_on_execution_start = ctx.enable_auto_log_stats = self.progress
        items = [{"unit": i, "payload": pickle.dumps(u, protocol=5)} for i, u in enumerate(units)]
        ds = ray.data.from_items(items, override_num_blocks=min(len(items), 4 * self.workers))
        del items
        out = ds.map_batches(_UnitActor, fn_constructor_args=(pickle.dumps(model, protocol=5), method, kwargs),
                             batch_size=1, batch_format="numpy", num_cpus=self.cpus_per_worker,
                             compute=ray.data.ActorPoolStrategy(size=min(self.workers, len(units))))
        for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
            for i, r in zip(batch["unit"].tolist(), batch["result"], strict=True):
                yield int(i), pickle.loads(r)


def embed_with_ray(texts: Sequence[str], factory: Callable[[], Embedder], *, actors: int = 2,
                   batch_size: int = 64, rows_per_batch: int = 256) -> np.ndarray:
    """Embed ``texts`` on the running Ray cluster (call ``ray.init`` first) in ``rows_per_batch`` slices, each
    one ``encode`` call; returns input order. (``analyze`` uses :class:`RayExecutor` instead.)"""
    from .executor import run_units

    embedder = factory()
    units = [list(texts[k:k + rows_per_batch]) for k in range(0, len(texts), rows_per_batch)]
    parts = run_units(RayExecutor("auto", workers=actors), embedder, "encode", units, batch_size=batch_size)
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
