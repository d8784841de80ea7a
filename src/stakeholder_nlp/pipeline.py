"""The analysis a researcher runs: corpus -> embedding -> themes -> shift -> sentiment -> stability.

The only module that imports every stage. The analysis is :data:`STAGES`, a list of
:class:`~stakeholder_nlp.stages.Stage` objects, each declaring the names it ``requires`` and ``assigns``
(how to add one: :mod:`stakeholder_nlp.stages`)::

    prepare    input_corpus -> corpus, set_aside, wave_order, input_ids
    embedding  corpus, embedder, input_ids -> embeddings, model_id
    themes     corpus, embeddings, embedder -> themes, agreement, near_duplicates, lemmas, lemma_lookup,
               curation_state, codebook_context, phrase_candidates
    subthemes  corpus, embeddings, embedder, themes, phrase_candidates -> subthemes (a second level within
               each theme: :mod:`stakeholder_nlp.themes.subthemes`; none where a theme is too small to split)
    shift      corpus, embeddings, themes, subthemes, lemmas, wave_order -> levels, shifts (both levels of the
               tree, one FDR family), trends, drift (per theme)
    sentiment  corpus, embedder, embeddings, themes, subthemes, wave_order, curation_state -> sentiment (the scorer's
               result), sentiment_scores, sentiment_labels, sentiment_levels, sentiment_shifts, sentiment_detail,
               sentiment_validation, sentiment_notice, sentiment_choice (which scorer ran and why: the
               embedding head reads ``embeddings`` from :data:`~.sentiment.scorers.SHARED_ENCODER_ABOVE` quotes on)
    changes    corpus, embeddings, model_id, themes, subthemes, phrase_candidates, shifts, sentiment*, wave_order
               -> changes
               (how each theme changed, from the quotes: :mod:`stakeholder_nlp.change`)
    stability  corpus, embeddings, embedder, themes, sentiment_scores, shifts, sentiment_shifts,
               lemma_lookup, wave_order -> stability            (runs only with runs > 0 and no themes file)

:func:`analyze` runs them and returns an :class:`Analysis` of DataFrames (columns documented in each stage's
module); :mod:`stakeholder_nlp.report` writes it to disk. :func:`run` runs any list of stages (a prefix such
as ``until(STAGES, "themes")``, or one with a stage replaced) and returns the :class:`~.stages.State`.
Every stage reads the run's :class:`Options` (``view.options``): the keyword arguments of :func:`analyze`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from .corpus import Corpus
from .corpus.nonresponse import NonResponseRules, set_aside
from .corpus.validate import check_analysable
from .embedding import Embedder, EmbeddingCache, embed_texts
from .stages import Stage, StageError, StageView, State, run_stages, stage
from .themes import Codebook, ThemeResult, TopicModel, fit_themes
from .themes.curation import ThemesFile, promoted

_DEFAULT_RULES = NonResponseRules()


@dataclass(frozen=True, slots=True)
class Analysis:
    corpus: Corpus
    embeddings: np.ndarray
    model_id: str
    themes: ThemeResult
    levels: pd.DataFrame
    shifts: pd.DataFrame
    drift: pd.DataFrame
    sentiment_scores: np.ndarray
    sentiment_labels: list[str]
    sentiment_levels: pd.DataFrame
    sentiment_shifts: pd.DataFrame
    stability: object | None
    timings: dict[str, float] = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    #: quotes set aside before themes (non-responses, too short): columns of corpus.nonresponse.SET_ASIDE_COLUMNS
    set_aside: pd.DataFrame | None = None
    #: emergent themes so alike they are probably one (themes.curation.NEAR_DUPLICATE_COLUMNS)
    near_duplicates: pd.DataFrame | None = None
    #: three or more waves: each theme's linear trend across waves (shift.prevalence.TREND_COLUMNS)
    trends: pd.DataFrame | None = None
    #: per quote: quote_id + sentiment.QUOTE_SCORE_COLUMNS (how a long quote's score was combined: `combine`)
    sentiment_detail: pd.DataFrame | None = None
    #: agreement with a person's labels (sentiment.validation.VALIDATION_COLUMNS); empty without labels
    sentiment_validation: pd.DataFrame | None = None
    #: one paragraph for the report: validated on this corpus or not, and how to do it
    sentiment_notice: str = ""
    #: agreement of the codebook coding with the corpus's human codes, per theme (Cohen's kappa with a speaker
    #: bootstrap interval, human vs machine prevalence; themes.crossval.AGREEMENT_COLUMNS); None without codes
    agreement: pd.DataFrame | None = None
    #: per quote: spaCy lemmas of its content words (saved for a curation rerun, not written as a table)
    lemmas: list[str] | None = None
    #: how each theme changed between waves, described from the quotes (change.records.ChangeResult:
    #: ``changes``, ``echoes``, per-quote ``mode`` and ``dissent``); None when the stage was not run
    changes: object | None = None
    #: subthemes within each top-level theme (themes.subthemes.SubthemeResult: ``subthemes``, per-quote
    #: ``quotes``, per-theme ``splits``); None when the stage was not run
    subthemes: object | None = None
    #: what the stages assigned that no field above holds (name -> value; e.g. a stage added to STAGES).
    #: :func:`~stakeholder_nlp.report.redact.redact_analysis` redacts the fields, not these
    outputs: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Options:
    """The keyword arguments of :func:`analyze` (documented there), as the stages read them."""

    codebook: Codebook | None = None
    mode: str | None = None
    cache: EmbeddingCache | None = None
    sentiment: Any = None
    seed: int = 0
    strata: Sequence[str] = ()
    runs: int = 5
    resample: float = 0.8
    n_boot: int = 2000
    n_topics: int | str = "auto"
    progress: bool = False
    nonresponse: NonResponseRules | None = _DEFAULT_RULES
    curation: ThemesFile | None = None
    phrase_labels: bool = True
    wave_order: Sequence | None = None
    baseline: Any = None
    sentiment_labels: pd.DataFrame | None = None
    sentiment_adapt: bool = False
    learn_from_codes: bool = False
    use_context: bool = True
    coder_fine_tune: bool = False
    embeddings: np.ndarray | None = None
    mode_classifier: Any = None
    executor: Any = None
    echo_threshold: float | None = None


def _prepare(s: StageView) -> dict:
    """Checks the options against the corpus, sets non-responses aside, fixes the wave order."""
    from .corpus.waves import infer_wave_order

    o, corpus = s.options, s["input_corpus"]
    if o.coder_fine_tune and not (o.learn_from_codes and o.codebook is not None):
        raise ValueError("coder_fine_tune tunes the codebook coder to your coding: it needs a codebook and "
                         "learn_from_codes=True (CLI: --codebook and --codes-col)")
    corpus.require_waves(2)
    order = infer_wave_order(corpus.quotes["wave"], o.wave_order, o.baseline)  # before anything is set aside
    if o.embeddings is not None and (getattr(o.embeddings, "ndim", 0) != 2 or len(o.embeddings) != len(corpus)):
        raise ValueError(f"embeddings must have one row per quote ({len(corpus)}); got shape "
                         f"{getattr(o.embeddings, 'shape', None)}")
    all_ids = corpus.quotes["quote_id"]
    set_aside_table = None
    if o.nonresponse is not None:
        corpus, set_aside_table = set_aside(corpus, o.nonresponse)
        corpus.require_waves(2)
    check_analysable(corpus)  # a clear minimum instead of a numerical failure deep inside a stage
    missing = [c for c in o.strata if c not in corpus.quotes.columns]
    if missing:
        raise ValueError(f"strata column(s) {missing} not in the corpus; metadata columns are "
                         f"{corpus.metadata_columns}")
    return {"corpus": corpus, "set_aside": set_aside_table, "wave_order": order, "input_ids": all_ids}


def _embedding(s: StageView) -> dict:
    o, corpus, embedder = s.options, s["corpus"], s["embedder"]
    q, all_ids = corpus.quotes, s["input_ids"]
    if o.embeddings is None:
        emb = embed_texts(corpus.texts, embedder, cache=o.cache, progress=o.progress, executor=o.executor)
        return {"embeddings": np.asarray(emb.vectors), "model_id": emb.model_id}
    # given (e.g. a memory-mapped file): the rows of the quotes left after the set-aside, in memory
    kept = pd.Index(all_ids).get_indexer(q["quote_id"]) if len(q) != len(all_ids) else slice(None)
    x = np.array(o.embeddings[kept], dtype=np.float32)
    x.setflags(write=False)
    return {"embeddings": x, "model_id": embedder.model_id}


def _themes(s: StageView) -> dict:
    """Fits (or, with a themes file, rebuilds) the themes; lemmatises meanwhile in worker processes."""
    from .stability import LemmaLookup
    from .themes.curation import near_duplicates
    from .themes.terms import Lemmatizer, lemma_sample

    o, corpus, x, embedder = s.options, s["corpus"], s["embeddings"], s["embedder"]
    q, texts = corpus.quotes, corpus.texts
    state = None
    if o.curation is not None:
        from .themes.curation import read_state

        state = read_state(o.curation, q["quote_id"].tolist(), texts)
    lemmatizer = Lemmatizer() if state is None else None
    # lemmatised in worker processes while this one fits the topics' clusters (which need no lemmas); the
    # topic labels' first use of the lookup waits for them and takes the chunks no worker has started. A
    # large corpus's bulk pass reads a hash sample (themes.terms.lemma_sample); the lookup lemmatises the
    # texts the labels and the stability panel need beyond it
    bulk = lemma_sample(texts) if state is None else None
    pending = lemmatizer.start(bulk, phrases=o.phrase_labels) if state is None else None
    lemmas = state["lemmas"].tolist() if state is not None else None
    lookup = LemmaLookup(texts, lemmas) if lemmas is not None else LemmaLookup.deferred(bulk, pending, lemmatizer)
    ctx = None
    if o.curation is not None:
        from .themes.curation import read_assignment, themes_from_assignment

        if o.curation.assignment is None:
            raise ValueError(f"{o.curation.path}: no [analysis] assignment = ... entry; use the file analyze wrote")
        themes = themes_from_assignment(read_assignment(o.curation.assignment, q["quote_id"].tolist()),
                                        o.curation)
    else:
        codes = None
        if o.codebook is not None:
            from .themes.coder import context_vectors

            ctx = context_vectors(corpus.contexts, embedder, cache=o.cache) if o.use_context else None
            codes = q["codes"].tolist() if any(len(c) for c in q["codes"]) else None
        themes = fit_themes(texts, x, codebook=o.codebook, mode=o.mode, embedder=embedder, random_state=o.seed,
                            topic_model=TopicModel(o.n_topics, random_state=o.seed, embedder=embedder,
                                                   executor=o.executor,
                                                   lemmatizer=lookup),
                            context=ctx, codes=codes, speakers=q["speaker"].tolist(), learn=o.learn_from_codes,
                            cache=o.cache, n_boot=min(o.n_boot, 1000),
                            contexts=corpus.contexts if ctx is not None else None, fine_tune=o.coder_fine_tune)
        if o.phrase_labels:
            from .themes.labels import relabel_topics

            themes = relabel_topics(themes, texts, x, nlp=lemmatizer.nlp if lemmatizer.lemmatize else None,
                                    known=pending.candidates())
    if lemmas is None:  # the bulk pass's lemmas and those computed since ('' for a text neither read)
        lemmas = lookup.known(texts)
    return {"themes": themes, "agreement": themes.agreement, "near_duplicates": near_duplicates(themes, x),
            "lemmas": list(lemmas), "lemma_lookup": lookup, "curation_state": state,
            "codebook_context": ctx is not None,
            "phrase_candidates": pending.candidates() if pending is not None else None}


def _subthemes(s: StageView) -> dict:
    """Subthemes within each top-level theme (the quote's primary theme), labelled by phrases."""
    from .themes.subthemes import fit_subthemes

    o, corpus, themes, x = s.options, s["corpus"], s["themes"], s["embeddings"]
    if o.curation is not None and o.curation.assignment is not None:
        from .themes.curation import read_assignment
        from .themes.subthemes import curated_subthemes

        saved = read_assignment(o.curation.assignment, corpus.quotes["quote_id"].tolist())
        if "subtheme" in saved.columns:  # a curation rerun keeps the saved subthemes, with the file's edits
            return {"subthemes": curated_subthemes(saved["subtheme"].tolist(), saved["subtheme_label"].tolist(),
                                                   themes.primary(), x, o.curation.subthemes)}

    def embed(words):
        return np.asarray(embed_texts(words, s["embedder"], cache=o.cache).vectors)

    return {"subthemes": fit_subthemes(
        corpus.texts, x, themes.primary(), speakers=corpus.quotes["speaker"].tolist(),
        labels=dict(zip(themes.themes["theme_id"], themes.themes["label"], strict=True)),
        known=s["phrase_candidates"], embed=embed, phrase_labels=o.phrase_labels)}


def _tree(s: StageView) -> tuple[pd.DataFrame, dict[str, str]]:
    """The themes' membership with each theme's subthemes folded beneath it, and subtheme -> parent
    (:func:`~.themes.subthemes.tree_membership`; the themes' own membership when there are no subthemes)."""
    from .themes.subthemes import tree_membership

    return tree_membership(s["themes"].membership, s["subthemes"])


def _shift(s: StageView) -> dict:
    """Shares per wave and their shifts at both levels of the tree (one BH family); trends and drift per theme."""
    from .shift import content_drift, prevalence_levels, prevalence_shift, prevalence_trend

    o, q, m, order = s.options, s["corpus"].quotes, s["themes"].membership, s["wave_order"]
    tree, parents = _tree(s)
    waves, speakers = q["wave"].tolist(), q["speaker"].tolist()
    strata = q[list(o.strata)] if o.strata else None
    kw = {"n_boot": o.n_boot, "seed": o.seed, "wave_order": order}
    return {"levels": prevalence_levels(tree, waves, speakers, parents=parents, **kw),
            "shifts": prevalence_shift(tree, waves, speakers, strata=strata, parents=parents, **kw),
            "trends": prevalence_trend(m, waves, speakers, **kw),
            "drift": content_drift(m, s["embeddings"], waves, speakers, s["lemmas"], seed=o.seed,
                                   wave_order=order)}


def _sentiment(s: StageView) -> dict:
    from .sentiment import load_scorer, sentiment_levels, sentiment_shift
    from .sentiment.apply import score_corpus
    from .sentiment.scorers import DEFAULT_SCORER, SHARED_ENCODER_ABOVE, choose_default

    o, corpus, order, state = s.options, s["corpus"], s["wave_order"], s["curation_state"]
    q = corpus.quotes
    waves, speakers = q["wave"].tolist(), q["speaker"].tolist()
    if o.sentiment is not None:
        scorer, choice = o.sentiment, {"asked": True, "reason": "asked for"}
    else:  # above a corpus size, the embedding head on the vectors already made (sentiment.scorers.choose_default)
        name, reason = choose_default(len(s["input_ids"]), s["embedder"], adapt=o.sentiment_adapt)
        scorer, choice = load_scorer(name, s["embedder"], cache=o.cache), {"asked": False, "reason": reason}
    scorer_name = getattr(scorer, "name", type(scorer).__name__)
    # the corpus's size as given (before non-responses are set aside), against the threshold
    choice = {"scorer": scorer_name, **choice, "threshold": SHARED_ENCODER_ABOVE, "n_quotes": len(s["input_ids"])}
    if (state is not None and o.sentiment_labels is None and len(state.columns) > 4
            and (state["scorer"] == scorer_name).all()):
        # a curation rerun: the quotes and the scorer are those of the saved run, so are their scores
        from .sentiment.apply import from_detail

        scored = from_detail(state.drop(columns=["text_sha256", "lemmas", "scorer"]), scorer_name)
    else:
        scored = score_corpus(scorer, q.assign(text=corpus.texts), labels=o.sentiment_labels,
                              adapt=o.sentiment_adapt, n_boot=o.n_boot, seed=o.seed, executor=o.executor, vectors=s["embeddings"])
    if not choice["asked"] and scorer_name != DEFAULT_SCORER:  # the switch is said where sentiment is read
        from dataclasses import replace

        scored = replace(scored, notice=f"Sentiment scorer: {choice['reason']}. {scored.notice}")
    scores, labels = scored.scores, scored.labels
    tree, parents = _tree(s)  # per theme and per subtheme, one BH family (sentiment.summary)
    return {"sentiment": scored, "sentiment_scores": scores, "sentiment_labels": labels,
            "sentiment_levels": sentiment_levels(tree, scores, labels, waves, speakers, wave_order=order,
                                                 parents=parents),
            "sentiment_shifts": sentiment_shift(tree, scores, waves, speakers, wave_order=order, parents=parents),
            "sentiment_detail": scored.detail, "sentiment_validation": scored.validation,
            "sentiment_notice": scored.notice, "sentiment_choice": choice}


def _changes(s: StageView) -> dict:
    """How each theme changed: voices, phrases, echoes, modes, realisations, tone, categories, sentences."""
    from .change.echoes import ECHO_THRESHOLD
    from .change.mode import load_mode_classifier
    from .change.records import describe_changes
    from .shift.waves import comparison_rows

    o, corpus, themes, x = s.options, s["corpus"], s["themes"], s["embeddings"]
    q, texts = corpus.quotes, corpus.texts
    mode_notice = ""
    if o.mode_classifier is not None:
        modes = o.mode_classifier.predict(texts, x, model_id=s["model_id"])
    else:
        from .errors import ModelError

        try:
            modes = load_mode_classifier().predict(texts, x, model_id=s["model_id"])
        except ModelError as exc:  # another embedder than the one the classifier was trained on: said, not hidden
            modes = [""] * len(texts)
            mode_notice = f"Quote modes were not classified: {exc}"
    tree, parents = _tree(s)  # a change record per theme and per subtheme (change.records)
    sig = s["shifts"][["theme_id", "wave_a", "wave_b", "share_significant", "share_q"]].merge(
        s["sentiment_shifts"][["theme_id", "wave_a", "wave_b", "sentiment_significant", "sentiment_q"]],
        on=["theme_id", "wave_a", "wave_b"], how="left")
    scored = s["sentiment"]
    return {"changes": describe_changes(
        quote_ids=q["quote_id"].tolist(), texts=texts, waves=q["wave"].tolist(), speakers=q["speaker"].tolist(),
        membership=tree, parents=parents, primary=themes.primary(), labels=_tree_labels(themes, s["subthemes"]),
        embeddings=x,
        scores=s["sentiment_scores"], sentiment_labels=s["sentiment_labels"], modes=modes,
        pairs=[(a, b) for a, b, _ in comparison_rows(s["wave_order"])], known=s["phrase_candidates"],
        tone_levels=s["sentiment_levels"], shifts=sig,
        threshold=ECHO_THRESHOLD if o.echo_threshold is None else o.echo_threshold,
        sentiment_validated=bool(getattr(scored, "validated", False)), mode_notice=mode_notice)}


def _tree_labels(themes: ThemeResult, subthemes) -> dict[str, str]:
    labels = dict(zip(themes.themes["theme_id"], themes.themes["label"], strict=True))
    if subthemes is not None:
        labels.update(zip(subthemes.subthemes["subtheme_id"], subthemes.subthemes["label"], strict=True))
    return labels


def _top(table: pd.DataFrame) -> pd.DataFrame:
    """The top level's rows of a shift table (the stability reruns refit the top level only)."""
    return table[table["level"] == "theme"].reset_index(drop=True)


def _stability(s: StageView) -> dict:
    from .stability import run_stability

    o, q = s.options, s["corpus"].quotes
    return {"stability": run_stability(
        s["corpus"].texts, s["embeddings"], q["wave"].tolist(), q["speaker"].tolist(), reference=s["themes"],
        codebook=o.codebook, mode=o.mode, embedder=s["embedder"], sentiment_scores=s["sentiment_scores"],
        runs=o.runs, resample=o.resample, seed=o.seed, n_topics=o.n_topics, lemmatizer=s["lemma_lookup"],
        n_boot=min(o.n_boot, 500), progress=o.progress, reference_shifts=_top(s["shifts"]),
        reference_sentiment_shifts=_top(s["sentiment_shifts"]), wave_order=s["wave_order"].levels,
        keys=q["quote_id"].astype(str).tolist())}


#: the names a run starts with (besides its options)
INPUTS = ("input_corpus", "embedder")
#: what the stages pass among themselves and ``Analysis`` does not keep (``outputs`` leaves them out, so that
#: the spaCy candidates and the lemma lookup are freed when ``analyze`` returns)
WORKING_NAMES = ("input_ids", "lemma_lookup", "phrase_candidates", "curation_state", "sentiment_choice")

#: the analysis, in order; see the module docstring for each stage's names and :mod:`.stages` to add one
STAGES: tuple[Stage, ...] = (
    stage("prepare", _prepare, requires=("input_corpus",),
          assigns=("corpus", "set_aside", "wave_order", "input_ids")),
    stage("embedding", _embedding, requires=("corpus", "embedder", "input_ids"), assigns=("embeddings", "model_id")),
    stage("themes", _themes, requires=("corpus", "embeddings", "embedder"),
          assigns=("themes", "agreement", "near_duplicates", "lemmas", "lemma_lookup", "curation_state",
                   "codebook_context", "phrase_candidates")),
    stage("subthemes", _subthemes, requires=("corpus", "embeddings", "embedder", "themes", "phrase_candidates"),
          assigns=("subthemes",)),
    stage("shift", _shift, requires=("corpus", "embeddings", "themes", "subthemes", "lemmas", "wave_order"),
          assigns=("levels", "shifts", "trends", "drift")),
    stage("sentiment", _sentiment, requires=("corpus", "embedder", "embeddings", "themes", "subthemes",
                                             "wave_order", "curation_state", "input_ids"),
          assigns=("sentiment", "sentiment_scores", "sentiment_labels", "sentiment_levels", "sentiment_shifts",
                   "sentiment_detail", "sentiment_validation", "sentiment_notice", "sentiment_choice")),
    stage("changes", _changes, requires=("corpus", "embeddings", "model_id", "themes", "subthemes",
                                         "phrase_candidates", "shifts",
                                         "sentiment", "sentiment_scores", "sentiment_labels", "sentiment_levels",
                                         "sentiment_shifts", "wave_order"),
          assigns=("changes",)),
    stage("stability", _stability, when=lambda s: s.options.runs > 0 and s.options.curation is None,
          requires=("corpus", "embeddings", "embedder", "themes", "sentiment_scores", "shifts",
                    "sentiment_shifts", "lemma_lookup", "wave_order"),
          assigns=("stability",)),
)


def run(corpus: Corpus, embedder: Embedder, *, stages: Sequence[Stage] = STAGES,
        on_stage: Callable[[str], None] | None = None, **options) -> State:
    """Run ``stages`` (default: all of :data:`STAGES`) on ``corpus`` with :func:`analyze`'s keyword options;
    returns the :class:`~.stages.State` (``state["themes"]``, ``state.timings``, ``state.record``)."""
    state = State({"input_corpus": corpus, "embedder": embedder}, Options(**options))
    return run_stages(state, stages, on_stage=on_stage)


_FIELDS = tuple(f.name for f in fields(Analysis) if f.name not in ("timings", "config", "outputs"))
#: the fields of Analysis without a default: a list of stages given to analyze must assign them
_REQUIRED = tuple(f.name for f in fields(Analysis) if f.default is MISSING and f.default_factory is MISSING)


def analyze(corpus: Corpus, embedder: Embedder, *, codebook: Codebook | None = None, mode: str | None = None,
            cache: EmbeddingCache | None = None, sentiment=None, seed: int = 0, strata: Sequence[str] = (),
            runs: int = 5, resample: float = 0.8, n_boot: int = 2000, n_topics: int | str = "auto",
            progress: bool = False, on_stage: Callable[[str], None] | None = None,
            nonresponse: NonResponseRules | None = _DEFAULT_RULES, curation: ThemesFile | None = None,
            phrase_labels: bool = True, wave_order: Sequence | None = None, baseline=None,
            sentiment_labels: pd.DataFrame | None = None, sentiment_adapt: bool = False,
            learn_from_codes: bool = False, use_context: bool = True, coder_fine_tune: bool = False,
            embeddings: np.ndarray | None = None, mode_classifier=None, echo_threshold: float | None = None,
            executor=None, stages: Sequence[Stage] = STAGES) -> Analysis:
    """Run every stage of :data:`STAGES` (or ``stages``); ``runs=0`` skips the stability reruns.

    ``embeddings``: the quotes' vectors, already made by ``embedder`` (one row per quote of ``corpus``, in its
    order, before non-responses are set aside; a memory map is fine:
    :func:`stakeholder_nlp.embedding.stream.load_embeddings` checks a file): the embedding stage only reads them.

    ``nonresponse``: rules for answers set aside before themes (``None`` keeps every quote).
    ``curation``: a themes file (:mod:`stakeholder_nlp.themes.curation`): its saved assignment is edited and
    the statistics recomputed without refitting the themes (stability reruns are skipped).
    ``phrase_labels``: label inductive themes by phrases from their quotes (:mod:`~.themes.labels`).
    ``wave_order``/``baseline``: the order of the waves (default: numeric/date order, an ordered Categorical's
    order, else first appearance; :func:`stakeholder_nlp.corpus.waves.infer_wave_order`).
    ``sentiment_labels``: a person's labels of some quotes (:func:`stakeholder_nlp.sentiment.validation.read_labels`):
    agreement is reported; ``sentiment_adapt`` also adapts the scorer to them (agreement by cross-validation).
    ``learn_from_codes``: the codebook coder learns from the quotes that carry human ``codes`` and codes the
    rest (agreement cross-validated by speaker); without it, coding is zero-shot and agreement is measured on
    every coded quote. ``use_context``: codebook coding uses each quote's ``context`` when the corpus has one.
    ``coder_fine_tune`` (with ``learn_from_codes``): the learned coder runs on an encoder fine-tuned to the coded
    quotes, fitted afresh for each cross-validation fold and once for the final coding (minutes per fit on a
    CPU; :mod:`~.themes.tuned`).
    ``mode_classifier``: what gives each quote its mode (``predict(texts, embeddings) -> list[str]``; default
    :func:`stakeholder_nlp.change.mode.load_mode_classifier`); ``echo_threshold``: the cosine at which a later
    quote restates an earlier one (default :data:`stakeholder_nlp.change.echoes.ECHO_THRESHOLD`).
    ``executor``: where the model passes run (the embedding, the fine-tuned sentiment model's pass, the
    assignment of quotes outside the themes' fit sample): default this process;
    :class:`stakeholder_nlp.embedding.distributed.RayExecutor` runs them on a Ray cluster, with the same
    results (docs/cluster.md). Everything else runs here.
    ``stages``: the stages to run (e.g. with one replaced: :func:`stakeholder_nlp.stages.replace`); they must
    assign every field of :class:`Analysis` that has no default; for part of the pipeline use :func:`run`.
    """
    state = run(corpus, embedder, stages=stages, on_stage=on_stage, codebook=codebook, mode=mode, cache=cache,
                sentiment=sentiment, seed=seed, strata=strata, runs=runs, resample=resample, n_boot=n_boot,
                n_topics=n_topics, progress=progress, nonresponse=nonresponse, curation=curation,
                phrase_labels=phrase_labels, wave_order=wave_order, baseline=baseline,
                sentiment_labels=sentiment_labels, sentiment_adapt=sentiment_adapt,
                learn_from_codes=learn_from_codes, use_context=use_context, coder_fine_tune=coder_fine_tune,
                embeddings=embeddings, mode_classifier=mode_classifier, echo_threshold=echo_threshold,
                executor=executor)
    missing = [n for n in _REQUIRED if n not in state]
    if missing:
        raise StageError(f"analyze needs stages that assign {missing} (its stages assign {sorted(state)}); "
                         "to run part of the pipeline use stakeholder_nlp.pipeline.run")
    themes, scored = state["themes"], state.get("sentiment")
    config = {"seed": seed, "mode": themes.mode, "strata": list(strata), "runs": 0 if curation is not None else runs,
              "resample": resample, "n_boot": n_boot, "n_topics": n_topics,
              "sentiment": getattr(scored, "scorer", None), "sentiment_validated": getattr(scored, "validated", None),
              "sentiment_choice": state.get("sentiment_choice"),
              "codebook": codebook.path if codebook is not None else None,
              "codebook_threshold": themes.threshold,
              "codebook_coding": themes.coding, "learn_from_codes": learn_from_codes,
              "coder_fine_tune": coder_fine_tune,
              "codebook_context": bool(state.get("codebook_context")),
              "wave_order": state["wave_order"].to_dict(),
              "inference": "speakers as clusters, every interval by inverting its test: shares by a Rao-Scott "
                           "design-effect Miettinen-Nurminen score test (t, Bell-McCaffrey df); sentiment "
                           "changes and per-wave means by a CR2 cluster-robust t (Bell-McCaffrey df, exchangeable working model); "
                           "trends by the restricted wild cluster bootstrap-t (Webb weights); BH q-values over "
                           "every theme x wave comparison, per measure (share, sentiment); trend tests form "
                           "their own family",
              "themes_file": curation.path if curation is not None else None,
              "curation_state_reused": state.get("curation_state") is not None,
              "promoted": promoted(curation) if curation is not None else {},
              "nonresponse": None if nonresponse is None else {"min_words": nonresponse.min_words,
                                                                "extra_phrases": list(nonresponse.extra_phrases)},
              "stages": state.record}
    values = {n: state[n] for n in _FIELDS if n in state}
    outputs = {n: v for n, v in state.items() if n not in _FIELDS and n not in INPUTS and n not in WORKING_NAMES}
    return Analysis(**values, timings=dict(state.timings), config=config, outputs=outputs)
