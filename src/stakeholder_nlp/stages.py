"""Stages that declare what they read and what they add, and :func:`run_stages`, which runs a list of them.

Like a spaCy component declares ``requires`` and ``assigns``, a :class:`Stage` names the values it reads
from the run's :class:`State` and the values it adds to it. A stage's function receives a read-only view
holding only the names it ``requires`` (plus ``view.options``, the run's options) and returns a dict with
exactly the names it ``assigns``; :func:`run_stages` checks both sides, times each stage and records it.
The analysis itself is the list :data:`stakeholder_nlp.pipeline.STAGES`.

Before anything runs, :func:`check_stages` walks the list: a stage whose input neither the initial state nor
an earlier stage provides stops the run with a :class:`StageError` naming the stage and the missing input,
so a mistake is found before minutes of embedding, not after.

Running part of the pipeline, or a different one::

    from stakeholder_nlp.pipeline import STAGES, run
    from stakeholder_nlp.stages import replace, until

    state = run(corpus, embedder, stages=until(STAGES, "themes"), n_topics=8)   # themes only
    state["themes"].membership
    state = run(corpus, embedder, stages=replace(STAGES, "sentiment", my_sentiment), runs=0)

Adding a stage
--------------
1. Write a function of the view, returning a dict of what it adds::

       def _changes(s):
           return {"changes": ..., "echoes": ..., "modes": ...}   # reads s["themes"], s.options.seed, ...

2. Declare it with :func:`stage` and add one entry to ``STAGES`` where its inputs exist (after
   ``sentiment`` for one that reads sentiment scores)::

       stage("changes", _changes, requires=("corpus", "themes", "sentiment_scores", "embeddings", "lemmas"),
             assigns=("changes", "echoes", "modes"))

3. Optionally give :class:`~stakeholder_nlp.pipeline.Analysis` a field of the same name with a default
   (``changes: pd.DataFrame | None = None``): ``analyze`` fills every field whose name a stage assigns;
   without a field the value is still in ``Analysis.outputs``.

A stage with ``when`` runs only if ``when(view)`` is true; otherwise it assigns ``None`` to each of its names
(``stability`` with ``runs=0``). Names are assigned once: a stage that assigns a name already in the state
is an error (two stages would otherwise disagree silently).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import StakeholderNLPError

__all__ = ["Stage", "StageError", "StageView", "State", "check_stages", "describe", "replace", "run_stages", "stage",
           "until"]


class StageError(StakeholderNLPError, ValueError):
    """A stage's contract is broken: an input it requires is missing, it read a name it does not declare,
    or it returned other names than it declares. The message names the stage and the names."""


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of the analysis: ``fn(view) -> {name: value for name in assigns}``."""

    name: str
    fn: Callable[[StageView], Mapping[str, Any]]
    requires: tuple[str, ...] = ()
    assigns: tuple[str, ...] = ()
    #: run only when this is true of the view; otherwise every name in ``assigns`` is set to None
    when: Callable[[StageView], bool] | None = None

    def describe(self) -> dict:
        """The record run.json keeps: name, requires, assigns."""
        return {"name": self.name, "requires": list(self.requires), "assigns": list(self.assigns)}


def stage(name: str, fn: Callable[[StageView], Mapping[str, Any]], *, requires: Iterable[str] = (),
          assigns: Iterable[str] = (), when: Callable[[StageView], bool] | None = None) -> Stage:
    """A :class:`Stage` (``requires``/``assigns`` as tuples)."""
    return Stage(name, fn, tuple(requires), tuple(assigns), when)


class State(Mapping):
    """The values a run has so far (name -> value), the run's ``options``, and what each stage did:
    ``timings`` (stage name -> wall seconds, stages that ran) and ``record`` (one :meth:`Stage.describe`
    dict per stage, with ``"ran"``: false for a stage whose ``when`` was false)."""

    def __init__(self, values: Mapping[str, Any], options: Any = None) -> None:
        self._values = dict(values)
        self.options = options
        self.timings: dict[str, float] = {}
        self.record: list[dict] = []

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise KeyError(f"no {name!r} in the state; it holds {sorted(self._values)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"State({sorted(self._values)})"


class StageView(Mapping):
    """What a stage's function sees: the names it requires, and ``options``."""

    __slots__ = ("_stage", "_state", "options")

    def __init__(self, state: State, st: Stage) -> None:
        self._state, self._stage, self.options = state, st, state.options

    def __getitem__(self, name: str) -> Any:
        if name not in self._stage.requires:
            raise StageError(f"stage {self._stage.name!r} read {name!r}, which is not in its requires "
                             f"{list(self._stage.requires)}; add it there")
        return self._state[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._stage.requires)

    def __len__(self) -> int:
        return len(self._stage.requires)


def check_stages(stages: Sequence[Stage], available: Iterable[str]) -> None:
    """Raise :class:`StageError` if a stage requires a name that neither ``available`` (the initial state)
    nor an earlier stage provides, or if two stages assign the same name."""
    have = {n: "the input" for n in available}
    seen: set[str] = set()
    for st in stages:
        if st.name in seen:
            raise StageError(f"two stages are named {st.name!r}; stage names must be unique")
        seen.add(st.name)
        missing = [n for n in st.requires if n not in have]
        if missing:
            given = ", ".join(sorted(have)) or "nothing"
            raise StageError(f"stage {st.name!r} requires {', '.join(map(repr, missing))}, which no earlier "
                             f"stage assigns (available before it: {given}); run the stage that assigns it "
                             "first or add it to the initial state")
        for n in st.assigns:
            if n in have:
                raise StageError(f"stage {st.name!r} assigns {n!r}, which {have[n]} already provides; a name "
                                 "is assigned once (to change it, replace that stage)")
            have[n] = f"stage {st.name!r}"


def run_stages(state: State, stages: Sequence[Stage], *,
               on_stage: Callable[[str], None] | None = None) -> State:
    """Run ``stages`` in order on ``state`` (which gains their names, timings and record); returns it.

    ``on_stage(name)`` is called as each stage that runs starts."""
    check_stages(stages, state)
    for st in stages:
        view = StageView(state, st)
        if st.when is not None and not st.when(view):
            out = dict.fromkeys(st.assigns)
            state.record.append({**st.describe(), "ran": False})
        else:
            if on_stage is not None:
                on_stage(st.name)
            t = time.perf_counter()
            out = dict(st.fn(view))
            state.timings[st.name] = time.perf_counter() - t
            state.record.append({**st.describe(), "ran": True})
            if set(out) != set(st.assigns):
                lacking, extra = sorted(set(st.assigns) - set(out)), sorted(set(out) - set(st.assigns))
                raise StageError(f"stage {st.name!r} declares assigns {list(st.assigns)} but returned "
                                 f"{sorted(out)} (missing {lacking}, undeclared {extra})")
        state._values.update(out)
    return state


def replace(stages: Sequence[Stage], name: str, new: Stage) -> list[Stage]:
    """A copy of ``stages`` with the stage called ``name`` replaced by ``new``."""
    _index(stages, name)
    return [new if st.name == name else st for st in stages]


def until(stages: Sequence[Stage], name: str) -> list[Stage]:
    """The stages up to and including the one called ``name``."""
    return list(stages[: _index(stages, name) + 1])


def describe(stages: Sequence[Stage]) -> list[dict]:
    """Each stage's name, requires and assigns."""
    return [st.describe() for st in stages]


def _index(stages: Sequence[Stage], name: str) -> int:
    for i, st in enumerate(stages):
        if st.name == name:
            return i
    raise StageError(f"no stage {name!r}; the stages are {[st.name for st in stages]}")

