"""The contrastive fine-tune of the coder's encoder: batches, pair targets, and the tuned encoder itself."""

from __future__ import annotations

import copy
import sys

import numpy as np
import pytest

from stakeholder_nlp.themes.finetune import codebook_training_set, pair_targets, theme_balanced_batches


def test_pair_targets_are_one_exactly_when_two_quotes_share_a_theme():
    y = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]], dtype=bool)
    t = pair_targets(y)
    assert t.tolist() == [[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]


def test_batches_are_theme_balanced_and_give_every_usable_theme_positive_pairs():
    rng = np.random.default_rng(0)
    y = np.zeros((200, 5), dtype=bool)
    y[np.arange(200), rng.choice(5, 200, p=[0.8, 0.1, 0.05, 0.04, 0.01])] = True  # theme 4: 2 quotes
    batches = theme_balanced_batches(y, steps=60, batch_size=16, per_theme=4, seed=1)
    assert len(batches) == 60
    seen_pairs = np.zeros(5, dtype=int)
    for b in batches:
        assert len(np.unique(b)) == len(b) <= 16
        counts = y[b].sum(axis=0)
        seen_pairs += counts >= 2
    assert (seen_pairs > 0).all()  # the rarest theme (two quotes) still forms positive pairs
    assert seen_pairs[4] > 60 * 4 / 5 * 0.5  # drawn about as often as the common theme, not 1% of the time


def test_batches_fill_with_uncoded_negatives_and_need_a_theme_with_two_quotes():
    y = np.zeros((30, 2), dtype=bool)
    y[:3, 0] = True
    b = theme_balanced_batches(y, steps=5, batch_size=8, per_theme=3, seed=0)
    assert all(len(x) == 8 for x in b) and all((~y[x].any(axis=1)).sum() >= 5 for x in b)
    with pytest.raises(ValueError, match="at least two coded quotes"):
        theme_balanced_batches(np.eye(3, dtype=bool), steps=1)


def test_codebook_phrases_are_training_texts_of_their_own_theme():
    from stakeholder_nlp.themes import parse_codebook

    book = parse_codebook('[[theme]]\nid = "a"\nname = "A"\ndescription = "about a"\nexamples = ["a1", "a2"]\n'
                          'near_misses = ["not a"]\n[[theme]]\nid = "b"\nname = "B"\ndescription = "about b"\n'
                          'examples = ["b1"]\n')
    texts, y = codebook_training_set(book)
    assert texts == ["about a", "a1", "a2", "about b", "b1"]  # near-misses belong to no theme: left out
    assert y.tolist() == [[True, False], [True, False], [True, False], [False, True], [False, True]]


def test_importing_the_module_does_not_import_torch():
    import subprocess

    code = "import stakeholder_nlp.themes.finetune, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_untuned_top_layers_reproduce_the_encoder_and_tuning_pulls_a_theme_together():
    from stakeholder_nlp.themes.finetune import LowerStates, TunedEmbedder, fine_tune_encoder

    states = LowerStates(frozen_layers=4)
    texts = ["the staff were kind", "the nurses were lovely", "the doctor was rude",
             "I waited months for a referral", "the appointment came too late", "it took ages to be seen"]
    base = states.model.encode(texts, normalize_embeddings=True)
    same = TunedEmbedder(states, copy.deepcopy(states.top_layers()), "untuned").encode(texts)
    assert np.allclose(same, base, atol=1e-5)  # the cached lower states + top layers are the encoder
    y = np.array([[1, 0]] * 3 + [[0, 1]] * 3, dtype=bool)
    tuned = fine_tune_encoder(texts, y, states=states, steps=15, batch_size=6, per_theme=3, lr=1e-4, seed=0)
    v = tuned.encode(texts)
    assert v.shape == (6, states.encoder.config.hidden_size)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)

    def margin(x):  # mean within-theme cosine minus mean between-theme cosine
        s = x @ x.T
        same_theme = pair_targets(y).astype(bool) & ~np.eye(6, dtype=bool)
        return s[same_theme].mean() - s[~pair_targets(y).astype(bool)].mean()

    assert margin(v) > margin(base) + 0.05
    assert tuned.model_id != TunedEmbedder(states, states.top_layers(), "other").model_id
    assert np.allclose(states.model.encode(texts, normalize_embeddings=True), base)  # the base model is untouched


def test_cross_validation_with_a_per_fold_encoder_scores_each_fold_on_that_folds_own_vectors():
    """A fine-tuned coder re-embeds the corpus per fold: the fold's quotes are scored with the vectors of the
    encoder that fold trained, and never by one that learned from them (or from their speaker)."""
    from stakeholder_nlp.embedding import HashingEmbedder
    from stakeholder_nlp.themes import parse_codebook
    from stakeholder_nlp.themes.coder import ThemeCoder
    from stakeholder_nlp.themes.crossval import cross_validated_predictions, speaker_groups
    from stakeholder_nlp.themes.tuned import FoldFit

    book = parse_codebook('[[theme]]\nid = "a"\nname = "A"\ndescription = "apples"\nexamples = ["red apples"]\n'
                          '[[theme]]\nid = "b"\nname = "B"\ndescription = "boats"\nexamples = ["sail boats"]\n')
    emb = HashingEmbedder(dim=256)
    texts = [f"{w} {i}" for i in range(10) for w in ("red apples", "sail boats")]
    speakers = [f"s{i // 2}" for i in range(len(texts))]
    y = book.human_matrix([["a"] if "apples" in t else ["b"] for t in texts])
    coded = np.ones(len(texts), dtype=bool)
    groups = speaker_groups(speakers)
    seen = []

    def fit_fold(train_y, train_mask, g):
        seen.append(np.flatnonzero(train_mask))
        assert not train_y[~train_mask].any()  # held-out codes never reach the fit
        x = emb.encode(texts)
        return FoldFit(ThemeCoder(book, emb).fit(x, y=train_y, coded=train_mask, groups=g), emb, x, None)

    cv = cross_validated_predictions(None, None, y=y, coded=coded, groups=groups, n_splits=5, fit_fold=fit_fold)
    assert len(seen) == 5 and cv.evaluated.all()
    for f, learned_from in enumerate(seen):
        scored = np.flatnonzero(cv.fold == f)
        assert not set(groups[scored]) & set(groups[learned_from])
    assert (cv.predictions.to_numpy() == y).mean() > 0.9


@pytest.mark.slow
def test_code_corpus_learns_on_a_fine_tuned_encoder_and_cross_validates_it(reference_embedder):
    from stakeholder_nlp.themes import parse_codebook
    from stakeholder_nlp.themes.crossval import CROSS_VALIDATED, code_corpus
    book = parse_codebook('[[theme]]\nid = "staff"\nname = "Staff"\ndescription = "the staff and their attitude"\n'
                          'examples = ["the nurses were kind"]\n[[theme]]\nid = "wait"\nname = "Waiting"\n'
                          'description = "waiting for an appointment"\nexamples = ["I waited months"]\n')
    texts = ["lovely nurses", "the doctor was rude", "kind and caring people", "staff were helpful",
             "waited six weeks", "the referral took ages", "still no appointment", "too long a wait"] * 2
    codes = [["staff"]] * 4 + [["wait"]] * 4 + [["staff"]] * 4 + [["wait"]] * 4
    speakers = [f"s{i % 8}" for i in range(16)]
    x = reference_embedder.encode(texts)
    res = code_corpus(book, reference_embedder, x, codes=codes, speakers=speakers, learn=True, n_boot=10,
                      texts=texts, fine_tune=True, fine_tune_steps=4, n_splits=2)
    assert res.mode == "learned, fine-tuned encoder"
    assert set(res.agreement["evaluation"]) == {CROSS_VALIDATED}
    assert res.probability.shape == (16, 2)
