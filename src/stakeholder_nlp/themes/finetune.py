"""Contrastive fine-tuning of the sentence encoder for the codebook coder (SetFit-style), from coded quotes.

When some quotes are coded, :func:`fine_tune_encoder` adapts the top layers of the sentence-transformers
encoder so that quotes sharing a theme move together and quotes sharing none move apart, as SetFit does
(Tunstall et al. 2022: cosine-similarity loss on pairs of same- and different-label texts), and the coder's
one-vs-rest head (:class:`~stakeholder_nlp.themes.coder.ThemeCoder`) is then fitted on the tuned embeddings.
Differences from SetFit's trainer, for a 2-core CPU:

* only the top ``train_layers`` transformer layers learn; the hidden states entering them are computed once
  per text by the frozen lower layers (:class:`LowerStates`) and shared by every tuned encoder (each fold of a
  cross-validation, each draw of a benchmark), so a training step and a re-embedding run the top layers only;
* every pair within a batch counts (a batch of ``batch_size`` texts gives ``batch_size * (batch_size - 1) / 2``
  pairs for one forward and backward pass, where SetFit's pair list spends two texts per pair), with
  positive and negative pairs weighted equally (each term is the mean over its pairs);
* batches are drawn theme-balanced (``per_theme`` texts of each of ``batch_size // per_theme`` themes), so
  rare themes get positive pairs; multi-label quotes are positives for every theme they share;
* the codebook's descriptions and examples are training texts of their theme (see
  :func:`codebook_training_set`), so the codebook (the zero-shot prior) stays close to its quotes in the
  tuned space.

The tuned encoder is used by the coder only; the embeddings the themes and topics are built on do not change.
torch and sentence-transformers are imported only here, when a coder learns.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..embedding.base import default_model_path, l2_normalise, model_fingerprint

log = logging.getLogger(__name__)


def theme_balanced_batches(labels: np.ndarray, *, steps: int, batch_size: int = 32, per_theme: int = 4,
                           seed: int = 0) -> list[np.ndarray]:
    """Row indices of ``steps`` batches: ``batch_size // per_theme`` themes (uniformly, among themes with at
    least two quotes) and ``per_theme`` of each theme's quotes; rows with no theme fill up to ``batch_size``
    as negatives for everything. A row drawn twice in a batch (a quote of two drawn themes) counts once."""
    y = np.asarray(labels, dtype=bool)
    members = [np.flatnonzero(y[:, k]) for k in range(y.shape[1])]
    usable = [k for k, m in enumerate(members) if len(m) >= 2]
    if not usable:
        raise ValueError("contrastive fine-tuning needs a theme with at least two coded quotes; found none")
    none = np.flatnonzero(~y.any(axis=1))
    rng = np.random.default_rng(seed)
    n_themes = max(1, batch_size // per_theme)
    out = []
    for _ in range(steps):
        themes = rng.choice(usable, size=n_themes, replace=len(usable) < n_themes)
        rows = [rng.choice(members[k], size=min(per_theme, len(members[k])), replace=False) for k in themes]
        batch = np.unique(np.concatenate(rows))
        if len(none) and len(batch) < batch_size:
            extra = rng.choice(none, size=min(batch_size - len(batch), len(none)), replace=False)
            batch = np.concatenate([batch, extra])
        out.append(batch)
    return out


def pair_targets(labels: np.ndarray) -> np.ndarray:
    """1 for two rows that share a theme, 0 otherwise (row × row)."""
    y = np.asarray(labels, dtype=np.float32)
    return (y @ y.T > 0).astype(np.float32)


def codebook_training_set(codebook) -> tuple[list[str], np.ndarray]:
    """The codebook's descriptions and examples as training texts, each labelled with its own theme."""
    texts, rows = [], []
    for k, theme in enumerate(codebook.themes):
        for p in theme.prototypes:
            texts.append(p)
            rows.append(k)
    labels = np.zeros((len(texts), len(codebook.themes)), dtype=bool)
    labels[np.arange(len(texts)), rows] = True
    return texts, labels


class LowerStates:
    """Hidden states of the encoder's frozen lower layers, per text, computed once and kept.

    Every :class:`TunedEmbedder` built on the same ``LowerStates`` runs only its own top layers, so fitting
    coders on many folds re-embeds a corpus at a fraction of a full encode. ``frozen_layers`` transformer
    layers (of the model's six for MiniLM-L6) stay frozen; texts are cut at ``max_seq_length`` word pieces.
    """

    def __init__(self, model_dir: str | Path | None = None, *, frozen_layers: int = 4, max_seq_length: int = 128,
                 batch_size: int = 64, threads: int | None = None) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self.model_dir = Path(model_dir) if model_dir is not None else default_model_path()
        self.model = SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
        self.model.max_seq_length = max_seq_length
        self.model.eval()
        layers = self.encoder.encoder.layer
        if not 0 <= frozen_layers < len(layers):
            raise ValueError(f"frozen_layers must be between 0 and {len(layers) - 1} (the encoder has {len(layers)} "
                             f"layers); got {frozen_layers}")
        self.frozen_layers = frozen_layers
        self.batch_size = batch_size
        self.fingerprint = model_fingerprint(self.model_dir)
        self._states: dict[str, np.ndarray] = {}
        self._tokenize = getattr(self.model, "preprocess", None) or self.model.tokenize

    @property
    def encoder(self):
        return self.model[0].auto_model

    def top_layers(self):
        """The layers above the frozen ones (the base model's, not copies)."""
        return self.encoder.encoder.layer[self.frozen_layers:]

    def get(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per text, its (tokens × hidden) states entering the first unfrozen layer (float32)."""
        import torch

        todo = sorted({t for t in texts if t not in self._states}, key=len)
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start:start + self.batch_size]
            feats = self._tokenize(chunk)
            with torch.inference_mode():
                out = self.encoder(input_ids=feats["input_ids"], attention_mask=feats["attention_mask"],
                                   token_type_ids=feats.get("token_type_ids"), output_hidden_states=True)
            hidden = out.hidden_states[self.frozen_layers].numpy()
            lengths = feats["attention_mask"].sum(dim=1).tolist()
            for t, h, n in zip(chunk, hidden, lengths, strict=True):
                self._states[t] = np.ascontiguousarray(h[:n], dtype=np.float32)
        return [self._states[t] for t in texts]


def _run_top(layers, states: list[np.ndarray]):
    """Mean-pooled, L2-normalised output of ``layers`` on padded ``states`` (a torch tensor)."""
    import torch

    n = max(len(s) for s in states)
    dim = states[0].shape[1]
    h = torch.zeros(len(states), n, dim)
    mask = torch.zeros(len(states), n)
    for i, s in enumerate(states):
        h[i, : len(s)] = torch.from_numpy(s)
        mask[i, : len(s)] = 1.0
    additive = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
    for layer in layers:
        out = layer(h, additive)
        h = out[0] if isinstance(out, tuple) else out
    pooled = (h * mask[:, :, None]).sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=1)


class TunedEmbedder:
    """The frozen lower layers (:class:`LowerStates`) with fine-tuned top layers, behind the
    :class:`~stakeholder_nlp.embedding.Embedder` protocol.

    ``model_id`` names the base model's fingerprint and a digest of what the top layers were tuned on, so an
    embedding cache never mixes its vectors with the base model's. ``losses_``: the training loss per step.
    """

    def __init__(self, states: LowerStates, layers, digest: str, losses: Sequence[float] = ()) -> None:
        self.states = states
        self.layers = layers
        self._id = f"{states.fingerprint[:16]}/st-fp32-tuned{len(layers)}-{digest}"
        self.losses_ = np.asarray(losses, dtype=np.float64)

    @property
    def model_id(self) -> str:
        return self._id

    @property
    def dim(self) -> int:
        return int(self.states.encoder.config.hidden_size)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        import torch

        texts = [str(t) for t in texts]
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        states = self.states.get(texts)
        order = np.argsort([len(s) for s in states], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                out[rows] = _run_top(self.layers, [states[i] for i in rows]).numpy()
        return l2_normalise(out)


def fine_tune_encoder(texts: Sequence[str], labels: np.ndarray, *, states: LowerStates | None = None,
                      steps: int = 100, batch_size: int = 32, per_theme: int = 4, lr: float = 5e-5,
                      seed: int = 0) -> TunedEmbedder:
    """Fine-tune copies of the encoder's top layers (above ``states.frozen_layers``) on ``texts`` with their
    theme matrix ``labels`` (row × theme booleans; rows with no theme are negatives for every theme).

    ``steps`` batches of theme-balanced texts (:func:`theme_balanced_batches`); loss per batch: mean squared
    error between the cosine of every pair and its target (1: the two share a theme, 0: they share none),
    the positive and the negative pairs' means weighted equally; AdamW at ``lr`` with linear warm-up over the
    first tenth of the steps and linear decay to zero; mean pooling, as the encoder was trained.
    ``states``: shared lower-layer states (default: a new :class:`LowerStates` of the package's model).
    """
    import torch

    texts = [str(t) for t in texts]
    y = np.asarray(labels, dtype=bool)
    if y.shape[0] != len(texts):
        raise ValueError(f"labels has {y.shape[0]} rows; expected one per text ({len(texts)})")
    states = states if states is not None else LowerStates()
    inputs = states.get(texts)
    torch.manual_seed(seed)
    layers = copy.deepcopy(states.top_layers())
    for p in layers.parameters():
        p.requires_grad_(True)
    batches = theme_balanced_batches(y, steps=steps, batch_size=batch_size, per_theme=per_theme, seed=seed)
    opt = torch.optim.AdamW(layers.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    losses = []
    layers.train()
    for rows in batches:
        target = torch.from_numpy(pair_targets(y[rows]))
        emb = _run_top(layers, [inputs[i] for i in rows])
        cos = emb @ emb.T
        upper = torch.triu(torch.ones_like(cos, dtype=torch.bool), diagonal=1)
        pos, neg = upper & (target > 0), upper & (target == 0)
        loss = torch.stack([((cos[m] - target[m]) ** 2).mean() for m in (pos, neg) if m.any()]).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(layers.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if len(losses) % 25 == 0:
            log.info("fine-tune step %d/%d: loss %.4f", len(losses), steps, np.mean(losses[-25:]))
    layers.eval()
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode())
        h.update(b"\x00")
    h.update(np.packbits(y).tobytes())
    h.update(repr((states.frozen_layers, steps, batch_size, per_theme, lr, seed)).encode())
    return TunedEmbedder(states, layers, h.hexdigest()[:12], losses)
