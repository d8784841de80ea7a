"""The analysis a researcher runs: corpus -> embedding -> themes -> shift -> sentiment -> stability.

The only module that imports every stage. :func:`analyze` returns an :class:`Analysis` of DataFrames
(columns documented in each stage's module); :mod:`stakeholder_nlp.report` writes them to disk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .corpus import Corpus
from .corpus.nonresponse import NonResponseRules, set_aside
from .corpus.validate import check_analysable
from .embedding import Embedder, EmbeddingCache, embed_texts
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


def analyze(corpus: Corpus, embedder: Embedder, *, codebook: Codebook | None = None, mode: str | None = None,
            cache: EmbeddingCache | None = None, sentiment=None, seed: int = 0, strata: Sequence[str] = (),
            runs: int = 5, resample: float = 0.8, n_boot: int = 2000, n_topics: int | str = "auto",
            progress: bool = False, on_stage: Callable[[str], None] | None = None,
            nonresponse: NonResponseRules | None = _DEFAULT_RULES, curation: ThemesFile | None = None,
            phrase_labels: bool = True, wave_order: Sequence | None = None, baseline=None,
            sentiment_labels: pd.DataFrame | None = None, sentiment_adapt: bool = False,
            learn_from_codes: bool = False, use_context: bool = True, coder_fine_tune: bool = False,
            embeddings: np.ndarray | None = None) -> Analysis:
    """Run every stage; ``runs=0`` skips the stability reruns.

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
    """
    from .sentiment import load_scorer, sentiment_levels, sentiment_shift
    from .shift import content_drift, prevalence_levels, prevalence_shift, prevalence_trend
    from .stability import LemmaLookup, run_stability
    from .themes.terms import Lemmatizer

    if coder_fine_tune and not (learn_from_codes and codebook is not None):
        raise ValueError("coder_fine_tune tunes the codebook coder to your coding: it needs a codebook and "
                         "learn_from_codes=True (CLI: --codebook and --codes-col)")
    corpus.require_waves(2)
    from .corpus.waves import infer_wave_order

    order = infer_wave_order(corpus.quotes["wave"], wave_order, baseline)  # before anything is set aside
    if embeddings is not None and (getattr(embeddings, "ndim", 0) != 2 or len(embeddings) != len(corpus)):
        raise ValueError(f"embeddings must have one row per quote ({len(corpus)}); got shape "
                         f"{getattr(embeddings, 'shape', None)}")
    all_ids = corpus.quotes["quote_id"]
    set_aside_table = None
    if nonresponse is not None:
        corpus, set_aside_table = set_aside(corpus, nonresponse)
        corpus.require_waves(2)
    check_analysable(corpus)  # a clear minimum instead of a numerical failure deep inside a stage
    missing = [s for s in strata if s not in corpus.quotes.columns]
    if missing:
        raise ValueError(f"strata column(s) {missing} not in the corpus; metadata columns are "
                         f"{corpus.metadata_columns}")
    say = on_stage or (lambda _s: None)
    timings: dict[str, float] = {}
    q = corpus.quotes
    texts, waves, speakers = corpus.texts, q["wave"].tolist(), q["speaker"].tolist()

    t = time.perf_counter()
    say("embedding")
    if embeddings is None:
        emb = embed_texts(texts, embedder, cache=cache, progress=progress)
        x, model_id = np.asarray(emb.vectors), emb.model_id
    else:  # given (e.g. a memory-mapped file): the rows of the quotes left after the set-aside, in memory
        kept = pd.Index(all_ids).get_indexer(q["quote_id"]) if len(q) != len(all_ids) else slice(None)
        x = np.array(embeddings[kept], dtype=np.float32)
        x.setflags(write=False)
        model_id = embedder.model_id
    timings["embedding"] = time.perf_counter() - t

    t = time.perf_counter()
    say("themes")
    state = None
    if curation is not None:
        from .themes.curation import read_state

        state = read_state(curation, q["quote_id"].tolist(), texts)
    lemmatizer = Lemmatizer() if state is None else None
    # lemmatised in worker processes while this one fits the topics' clusters (which need no lemmas); the
    # topic labels' first use of the lookup waits for them and takes the chunks no worker has started
    pending = lemmatizer.start(texts, phrases=phrase_labels) if state is None else None
    lemmas = state["lemmas"].tolist() if state is not None else None
    lookup = LemmaLookup(texts, lemmas) if lemmas is not None else LemmaLookup.deferred(texts, pending)
    ctx = None
    if curation is not None:
        from .themes.curation import read_assignment, themes_from_assignment

        if curation.assignment is None:
            raise ValueError(f"{curation.path}: no [analysis] assignment = ... entry; use the file analyze wrote")
        themes = themes_from_assignment(read_assignment(curation.assignment, q["quote_id"].tolist()), curation)
        runs = 0
    else:
        ctx, codes = None, None
        if codebook is not None:
            from .themes.coder import context_vectors

            ctx = context_vectors(corpus.contexts, embedder, cache=cache) if use_context else None
            codes = q["codes"].tolist() if any(len(c) for c in q["codes"]) else None
        themes = fit_themes(texts, x, codebook=codebook, mode=mode, embedder=embedder, random_state=seed,
                            topic_model=TopicModel(n_topics, random_state=seed, embedder=embedder,
                                                   lemmatizer=lookup),
                            context=ctx, codes=codes, speakers=speakers, learn=learn_from_codes, cache=cache,
                            n_boot=min(n_boot, 1000), contexts=corpus.contexts if ctx is not None else None,
                            fine_tune=coder_fine_tune)
        if phrase_labels:
            from .themes.labels import relabel_topics

            themes = relabel_topics(themes, texts, x, nlp=lemmatizer.nlp if lemmatizer.lemmatize else None,
                                    known=pending.candidates())
    if lemmas is None:
        lemmas = pending.result()
    from .themes.curation import near_duplicates

    near = near_duplicates(themes, x)
    timings["themes"] = time.perf_counter() - t

    t = time.perf_counter()
    say("shift")
    strata_df = q[list(strata)] if strata else None
    levels = prevalence_levels(themes.membership, waves, speakers, n_boot=n_boot, seed=seed, wave_order=order)
    shifts = prevalence_shift(themes.membership, waves, speakers, strata=strata_df, n_boot=n_boot, seed=seed,
                              wave_order=order)
    trends = prevalence_trend(themes.membership, waves, speakers, n_boot=n_boot, seed=seed, wave_order=order)
    drift = content_drift(themes.membership, x, waves, speakers, lemmas, seed=seed, wave_order=order)
    timings["shift"] = time.perf_counter() - t

    t = time.perf_counter()
    say("sentiment")
    from .sentiment.apply import score_corpus

    scorer = sentiment or load_scorer("default", embedder, cache=cache)
    scorer_name = getattr(scorer, "name", type(scorer).__name__)
    if (state is not None and sentiment_labels is None and len(state.columns) > 4
            and (state["scorer"] == scorer_name).all()):
        # a curation rerun: the quotes and the scorer are those of the saved run, so are their scores
        from .sentiment.apply import from_detail

        scored = from_detail(state.drop(columns=["text_sha256", "lemmas", "scorer"]), scorer_name)
    else:
        scored = score_corpus(scorer, q.assign(text=texts), labels=sentiment_labels, adapt=sentiment_adapt,
                              n_boot=n_boot, seed=seed)
    scores, labels = scored.scores, scored.labels
    s_levels = sentiment_levels(themes.membership, scores, labels, waves, speakers, wave_order=order)
    s_shifts = sentiment_shift(themes.membership, scores, waves, speakers, wave_order=order)
    timings["sentiment"] = time.perf_counter() - t

    stability = None
    if runs > 0:
        t = time.perf_counter()
        say("stability")
        stability = run_stability(texts, x, waves, speakers, reference=themes, codebook=codebook, mode=mode,
                                  embedder=embedder, sentiment_scores=scores, runs=runs, resample=resample,
                                  seed=seed, n_topics=n_topics, lemmatizer=lookup, n_boot=min(n_boot, 500),
                                  progress=progress, reference_shifts=shifts, reference_sentiment_shifts=s_shifts,
                                  wave_order=order.levels)
        timings["stability"] = time.perf_counter() - t
    config = {"seed": seed, "mode": themes.mode, "strata": list(strata), "runs": runs, "resample": resample,
              "n_boot": n_boot, "n_topics": n_topics, "sentiment": scored.scorer,
              "sentiment_validated": scored.validated,
              "codebook": codebook.path if codebook is not None else None,
              "codebook_threshold": themes.threshold,
              "codebook_coding": themes.coding, "learn_from_codes": learn_from_codes,
              "coder_fine_tune": coder_fine_tune,
              "codebook_context": ctx is not None,
              "wave_order": order.to_dict(),
              "inference": "speakers as clusters, every interval by inverting its test: shares by a Rao-Scott "
                           "design-effect Miettinen-Nurminen score test (t, Bell-McCaffrey df); sentiment "
                           "changes and per-wave means by a CR2 cluster-robust t (Bell-McCaffrey df, exchangeable working model); "
                           "trends by the restricted wild cluster bootstrap-t (Webb weights); BH q-values over "
                           "every theme x wave comparison, per measure (share, sentiment); trend tests form "
                           "their own family",
              "themes_file": curation.path if curation is not None else None,
              "curation_state_reused": state is not None,
              "promoted": promoted(curation) if curation is not None else {},
              "nonresponse": None if nonresponse is None else {"min_words": nonresponse.min_words,
                                                                "extra_phrases": list(nonresponse.extra_phrases)}}
    return Analysis(corpus, x, model_id, themes, levels, shifts, drift, scores, labels, s_levels, s_shifts,
                    stability, timings, config, set_aside=set_aside_table, near_duplicates=near,
                    trends=trends, sentiment_detail=scored.detail, sentiment_validation=scored.validation,
                    sentiment_notice=scored.notice, agreement=themes.agreement, lemmas=list(lemmas))
