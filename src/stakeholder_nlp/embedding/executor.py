"""Where a model pass runs: the :class:`Executor` protocol, and :class:`LocalExecutor` (this process).

A pass (the embedder's, the sentiment scorer's, the assignment of quotes to theme centroids) is planned on
the driver as a list of *units*, each exactly one model call of the single-process run (one embedding chunk,
one ONNX Runtime batch, one block of vectors). An executor calls ``getattr(model, method)(unit, **kwargs)``
on each unit and yields ``(index, result)`` pairs; the caller puts each result in its place. Because a unit
is the call the single-process run makes, with the same inputs in the same order, the results are the same
floats wherever the call runs.

:class:`~.distributed.RayExecutor` runs the units as Ray Data ``map_batches`` on a Ray cluster; stages take
an executor as an option (``analyze(..., executor=...)``), so none of them branches on where it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["Executor", "LocalExecutor", "run_units"]


@runtime_checkable
class Executor(Protocol):
    """Runs ``getattr(model, method)(unit, **kwargs)`` for each unit; yields ``(index, result)`` in any order.

    ``model`` must pickle (the embedders and scorers pickle as the arguments that rebuild them)."""

    name: str

    def map(self, model: Any, method: str, units: Sequence[Any], **kwargs: Any) -> Iterator[tuple[int, Any]]:
        ...


class LocalExecutor:
    """Every unit in this process, in order (what a run without an executor does)."""

    name = "local"

    def map(self, model: Any, method: str, units: Iterable[Any], **kwargs: Any) -> Iterator[tuple[int, Any]]:
        fn = getattr(model, method)
        for i, unit in enumerate(units):
            yield i, fn(unit, **kwargs)


def run_units(executor: Executor | None, model: Any, method: str, units: Sequence[Any],
              **kwargs: Any) -> list[Any]:
    """The results of every unit, in unit order (``executor=None``: in this process)."""
    out: list[Any] = [None] * len(units)
    done = [False] * len(units)
    for i, result in (executor or LocalExecutor()).map(model, method, units, **kwargs):
        out[i], done[i] = result, True
    if not all(done):
        missing = [i for i, d in enumerate(done) if not d]
        raise RuntimeError(f"the executor returned no result for {len(missing)} of {len(units)} units "
                           f"(first: {missing[:5]}); the pass is incomplete")
    return out
