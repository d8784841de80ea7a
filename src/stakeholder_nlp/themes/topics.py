"""Inductive themes: :class:`TopicModel`, a scikit-learn-style estimator on BERTopic's pieces.

Why not BERTopic's defaults: on ~100 quotes UMAP + HDBSCAN give 2-4 topics, a third of the quotes as
outliers, and topics that change with the seed (mean pairwise ARI 0.35 on the GP-cluster corpus) and with
the input order. Here:

* the quotes are put in a canonical order (by a hash of text and vector) before anything random happens,
  and labels are mapped back, so the same quotes in any order give identical labels;
* the embeddings are reduced by PCA (deterministic). The default, ``method="consensus"``, reports the
  consensus of resampled fits: for k themes, k-means in the k - 1 leading principal components (where
  k-means' cluster structure lives: Ding & He 2004) is fitted on ``stability_draws`` hash-chosen
  subsamples, the subsamples' centroids are pooled and clustered (bagged clustering, Leisch 1999; the
  ensembles of Hoyle et al. 2022, gensim's EnsembleLda and EnsTop work the same way), and every quote goes
  to the nearest pooled centroid; each theme is marked with how often it reappears (Jaccard >= 0.5) in the
  subsample fits (``topic_info_["reappearance"]``). Its restarts use a fixed internal seed on data-chosen
  subsamples, so the seed cannot change the themes. ``method="agglomerative"`` (average linkage on cosine
  distance; the previous default) and ``method="kmeans"`` are available;
* k is chosen by *excess stability* (Lange et al. 2004) plus the silhouette: for each candidate k the
  clustering is refitted on subsamples (hash folds of the quotes) and its mean pairwise ARI is compared
  with the same on a structureless null (each PCA component permuted); the silhouette (cosine) of the
  full-data partition is added, which breaks the near-ties that stability alone leaves on small corpora.
  The k with the largest score, among those with enough quotes per theme, is taken (``"consensus"``: the
  fewest themes within one standard error of the largest score, so that k does not wander over a flat,
  noisy top). Raw stability always favours the fewest themes; the null removes that bias.
  ``n_topics=`` fixes k instead;
* ``method="hdbscan"`` keeps BERTopic's UMAP + HDBSCAN and then reassigns outliers to the nearest topic
  centroid, so that at most ``max_outlier_share`` stay unassigned;
* large corpora are fitted on a sample (``max_fit_samples``) and the rest assigned to the nearest centroid;
* labels: c-TF-IDF over spaCy lemmas (stop words removed), re-ranked by MMR; 3-5 representative quotes per
  theme (closest to the centroid).

Fitted attributes: ``labels_`` (int per quote, -1 unassigned), ``n_topics_``, ``topic_info_`` (DataFrame,
see :data:`TOPIC_INFO_COLUMNS`), ``centroids_``, ``k_scores_`` (stability per candidate k), ``reducer_``,
``reappearance_`` (per topic, share of subsample fits it reappears in; NaN where not measured).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import NotFittedError

#: columns of ``TopicModel.topic_info_``
TOPIC_INFO_COLUMNS = ("topic", "label", "n_quotes", "terms", "mmr_terms", "representative", "reappearance")
#: ``method`` values
METHODS = ("consensus", "agglomerative", "kmeans", "hdbscan")
#: quotes outside the fit sample are assigned to the nearest centroid in blocks of this many rows
ASSIGN_BLOCK = 20_000


@dataclass(frozen=True, slots=True)
class NearestCentroid:
    """``assign(block)``: the id (``ids[k]``) of each row's nearest centroid (cosine: rows of
    ``centroids`` are unit length, as are the quotes' vectors)."""

    ids: np.ndarray
    centroids: np.ndarray

    def assign(self, block: np.ndarray) -> np.ndarray:
        return self.ids[(block @ self.centroids.T).argmax(1)]


def assign_nearest(x: np.ndarray, rows: np.ndarray, nearest: NearestCentroid, *, executor=None,
                   block: int = ASSIGN_BLOCK) -> np.ndarray:
    """The nearest centroid's id for ``x[rows]``, block by block (``block`` rows: one matrix product each).

    ``executor`` (:mod:`stakeholder_nlp.embedding.executor`, e.g. a Ray cluster): where the blocks are
    assigned; each block is the same product wherever it runs, so the same ids (the blocks' vectors travel)."""
    starts = range(0, len(rows), block)
    if executor is None:  # one block's copy at a time
        parts = [nearest.assign(x[rows[k:k + block]]) for k in starts]
    else:
        from ..embedding.executor import run_units

        parts = run_units(executor, nearest, "assign", [np.ascontiguousarray(x[rows[k:k + block]]) for k in starts])
    return np.concatenate(parts) if parts else np.empty(0, dtype=nearest.ids.dtype)


#: above this many quotes, class means and row products are accumulated block by block
_MEAN_BLOCK = 65_536


def _class_means(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Mean vector of the rows of each label ``0 .. k-1``: one selection per label up to
    :data:`_MEAN_BLOCK` rows; above, float64 sums block by block, so no label's rows are ever copied whole."""
    if len(x) <= _MEAN_BLOCK:
        return np.stack([x[labels == t].mean(0) for t in range(k)])
    sums = np.zeros((k, x.shape[1]), dtype=np.float64)
    counts = np.bincount(labels[labels >= 0], minlength=k)[:k]
    for s in range(0, len(x), _MEAN_BLOCK):
        lab = labels[s:s + _MEAN_BLOCK]
        keep = lab >= 0
        block = np.asarray(x[s:s + _MEAN_BLOCK], dtype=np.float64)[keep]
        onehot = np.zeros((k, len(block)))
        onehot[lab[keep], np.arange(len(block))] = 1.0
        sums += onehot @ block
    return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)


def _row_dots(x: np.ndarray, rows: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``x[rows] @ v``, in blocks of :data:`_MEAN_BLOCK` rows."""
    if len(rows) <= _MEAN_BLOCK:
        return x[rows] @ v
    return np.concatenate([x[rows[s:s + _MEAN_BLOCK]] @ v for s in range(0, len(rows), _MEAN_BLOCK)])


def _hash_keys(texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
    """A 62-bit key per quote from its text and vector: the canonical order and the selection folds."""
    return np.array([int.from_bytes(hashlib.sha256(t.encode("utf-8") + embeddings[i].tobytes()).digest()[:8],
                                    "little") >> 2 for i, t in enumerate(texts)], dtype=np.int64)


def _pairwise_ari(partitions: list[tuple[np.ndarray, np.ndarray]]) -> float:
    scores = _pairwise_aris(partitions)
    return float(np.mean(scores)) if len(scores) else 0.0


def _pairwise_aris(partitions: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """ARI of every pair of partitions on the quotes they share."""
    from sklearn.metrics import adjusted_rand_score

    scores = []
    for a in range(len(partitions)):
        for b in range(a + 1, len(partitions)):
            ia, la = partitions[a]
            ib, lb = partitions[b]
            shared, pa, pb = np.intersect1d(ia, ib, return_indices=True)
            if len(shared) > 2:
                scores.append(adjusted_rand_score(la[pa], lb[pb]))
    return np.asarray(scores, dtype=float)


@dataclass(frozen=True, slots=True)
class _KMeansFit:
    labels_: np.ndarray
    cluster_centers_: np.ndarray
    inertia_: float


def _kmeans(x: np.ndarray, k: int, *, n_init: int = 4, seed: int = 0, max_iter: int = 50) -> _KMeansFit:
    """Lloyd's k-means with k-means++ seeding, best of ``n_init``; plain numpy (the ensemble runs hundreds
    of small fits, where scikit-learn's per-call overhead dominates). Deterministic for a given seed."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    k = min(k, n)
    rng = np.random.default_rng(seed)
    sq = (x ** 2).sum(1)
    dim = x.shape[1]
    cols = np.arange(dim)[None, :]
    best = None
    for _ in range(n_init):
        centres = np.empty((k, x.shape[1]))
        centres[0] = x[rng.integers(n)]
        d2 = np.maximum(sq - 2 * x @ centres[0] + centres[0] @ centres[0], 0)
        for j in range(1, k):
            total = d2.sum()
            pick = rng.choice(n, p=d2 / total) if total > 0 else rng.integers(n)
            centres[j] = x[pick]
            d2 = np.minimum(d2, np.maximum(sq - 2 * x @ centres[j] + centres[j] @ centres[j], 0))
        labels = None
        for _it in range(max_iter):
            dist = sq[:, None] - 2 * x @ centres.T + (centres ** 2).sum(1)[None, :]
            new = dist.argmin(1)
            if labels is not None and np.array_equal(new, labels):
                break
            labels = new
            counts = np.bincount(labels, minlength=k)
            # per-cluster sums as one bincount over (cluster, dimension) cells: the same sequential sums as
            # np.add.at (identical floats), several times faster (a third of the time of k selection)
            sums = np.bincount((labels[:, None] * dim + cols).ravel(), weights=x.ravel(),
                               minlength=k * dim).reshape(k, dim)
            filled = counts > 0
            centres[filled] = sums[filled] / counts[filled, None]
        inertia = float(np.maximum(dist[np.arange(n), labels], 0).sum())
        if best is None or inertia < best.inertia_ - 1e-12:
            best = _KMeansFit(labels.astype(np.int64), centres.copy(), inertia)
    return best


def _kmeans_low(z: np.ndarray, k: int) -> _KMeansFit:
    """k-means in the k - 1 leading components of ``z`` (PCA scores, leading first); fixed seed."""
    return _kmeans(z[:, :max(1, min(k - 1, z.shape[1]))], k, n_init=4, seed=0)


def _bagged(z: np.ndarray, k: int, keys: np.ndarray, draws: int) -> tuple[np.ndarray, dict[int, float]]:
    """Consensus of ``draws`` subsample fits (fold f of the hash keys left out in fit f): the fits'
    centroids pooled and clustered into k, every quote to the nearest pooled centroid. Also each theme's
    reappearance: the share of fits with a cluster whose members overlap the theme's by Jaccard >= 0.5."""
    zk = z[:, :max(1, min(k - 1, z.shape[1]))]
    folds = keys % draws
    cents, parts = [], []
    for f in range(draws):
        d = np.flatnonzero(folds != f)
        if len(d) <= k:
            continue
        km = _kmeans_low(z[d], k)
        cents.append(km.cluster_centers_)
        parts.append((d, km.labels_))
    if not cents:
        km = _kmeans_low(z, k)
        return km.labels_, {}
    final = _kmeans(np.vstack(cents), k, n_init=10, seed=0).cluster_centers_
    dist = (zk ** 2).sum(1)[:, None] - 2 * zk @ final.T + (final ** 2).sum(1)[None, :]
    labels = dist.argmin(1)
    reappear = {}
    for t in np.unique(labels):
        hits = []
        for d, lab in parts:
            a = labels[d] == t
            onehot = lab[:, None] == np.arange(k)[None, :]
            inter = (onehot & a[:, None]).sum(0)
            union = onehot.sum(0) + a.sum() - inter
            hits.append((inter / np.maximum(union, 1)).max() >= 0.5)
        reappear[int(t)] = float(np.mean(hits))
    return labels, reappear


class TopicModel:
    """Find themes in quotes from all waves jointly.

    Parameters
    ----------
    n_topics : int, "auto"
        Number of themes; ``"auto"`` picks k by stability (from 3 to about the square root of the number
        of quotes, at most 20, or 40 above 5,000 quotes).
    method : {"consensus", "agglomerative", "kmeans", "hdbscan"}
    k_range : (int, int) or None
        Candidate k for ``"auto"``; default from the corpus size (3 .. ~n/8, at most 20).
    min_topic_size : int or None
        Smallest acceptable median theme size when choosing k (default: 5, or 1% of the sample).
    n_components : int
        PCA dimensions before clustering.
    stability_draws : int
        Hash folds for choosing k (each subsample leaves one fold out) and subsample fits of the consensus;
        above 1,000 quotes at most 5 folds for k and 10 fits (cost); other methods use at most 10.
    k_plateau : float
        With ``method="consensus"``: the fewest themes whose score (excess stability + silhouette) is
        within this many standard errors of the best is taken (the one-standard-error rule).
    k_tolerance : float
        When choosing k, the most granular k whose score is within this much of the best is taken.
    max_fit_samples : int
        Above this many quotes, fit on a seeded sample and assign the rest to the nearest centroid.
    max_outlier_share : float
        With ``method="hdbscan"``: at most this share left unassigned after reassignment.
    random_state : int
        Seeds k-means and UMAP (``method="kmeans"``/``"hdbscan"``) and the c-TF-IDF sample above 20,000
        quotes. The default agglomerative method, its choice of k and its fit sample depend on the data
        alone: any seed gives the same themes.
    embedder : Embedder, optional
        Embeds candidate terms for the MMR labels (plain c-TF-IDF order without it).
    lemmatizer : callable, optional
        ``list[str] -> list[str]``; defaults to spaCy lemmas without stop words.
    executor : Executor, optional
        Where the quotes outside the fit sample are assigned to the nearest centroid
        (:func:`assign_nearest`; e.g. :class:`~stakeholder_nlp.embedding.distributed.RayExecutor`); the
        same labels as in this process.
    """

    def __init__(self, n_topics: int | str = "auto", *, method: str = "consensus",
                 k_range: tuple[int, int] | None = None, min_topic_size: int | None = None,
                 n_components: int = 30, stability_draws: int = 20, subsample: float = 0.8,
                 max_fit_samples: int = 5_000, k_plateau: float = 1.0, k_tolerance: float = 0.08, max_outlier_share: float = 0.10, n_representative: int = 5,
                 random_state: int = 0, embedder=None, lemmatizer=None, executor=None) -> None:
        self.n_topics = n_topics
        self.method = method
        self.k_range = k_range
        self.min_topic_size = min_topic_size
        self.n_components = n_components
        self.stability_draws = stability_draws
        self.subsample = subsample
        self.max_fit_samples = max_fit_samples
        self.k_plateau = k_plateau
        self.k_tolerance = k_tolerance
        self.max_outlier_share = max_outlier_share
        self.n_representative = n_representative
        self.random_state = random_state
        self.embedder = embedder
        self.lemmatizer = lemmatizer
        self.executor = executor

    # -- clustering --------------------------------------------------------------------------------
    def _partitions(self, x: np.ndarray, ks: Sequence[int], seed: int) -> dict[int, np.ndarray]:
        """Labels of ``x`` for each k in ``ks`` (one linkage tree cut at every k for agglomerative)."""
        if self.method == "consensus":
            return {k: _kmeans_low(x, k).labels_ for k in ks}
        if self.method == "agglomerative":
            from scipy.cluster.hierarchy import fcluster, linkage

            tree = linkage(x, method="average", metric="cosine")
            return {k: fcluster(tree, t=k, criterion="maxclust") - 1 for k in ks}
        from sklearn.cluster import KMeans

        n_init = 10 if len(x) <= 5000 else 3
        return {k: KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(x).labels_ for k in ks}

    def _choose_k(self, x: np.ndarray, keys: np.ndarray, n_total: int) -> tuple[int, dict[int, float]]:
        """Excess stability per candidate k, on subsamples and a null that depend on the data alone:
        fold ``f`` of ``stability_draws`` leaves out the quotes whose hash falls in that fold, and the null
        permutes each component by a hash order. The choice therefore never depends on the seed."""
        n = len(x)
        cap = 40 if n_total > 5000 else 20
        lo, hi = self.k_range or (3, int(min(cap, max(4, round(np.sqrt(n_total))), n // 5 or 3)))
        hi = min(hi, n - 1)
        lo = min(lo, hi)
        ks = list(range(lo, hi + 1))
        if self.method == "consensus" and len(ks) > 12:  # every k to 12, then a coarser grid (cost at scale)
            ks = [k for k in ks if k <= 12 or (k <= 20 and k % 2 == 0) or k % 4 == 0 or k == hi]
        min_size = self.min_topic_size or max(5, n // 100)
        if n > 2000:  # select on a hash-chosen subset
            pick = np.argsort(keys % 1_000_003, kind="stable")[:2000]
            x, keys = x[np.sort(pick)], keys[np.sort(pick)]
        m = len(x)
        # 20 folds on small corpora (10 left the choice of k noisy at 100 quotes: k 5-8 -> 5-6 across
        # subsamples, subsample ARI 0.655 -> 0.715); 5 above 1,000 quotes (cost)
        if self.method == "consensus":
            n_draws = self.stability_draws if m <= 1000 else min(self.stability_draws, 5)
        else:
            n_draws = min(self.stability_draws, 10)
        folds = keys % n_draws
        null = np.column_stack([x[np.argsort((keys * (2 * j + 3)) % 2_147_483_647, kind="stable"), j]
                                for j in range(x.shape[1])])
        draws = [np.flatnonzero(folds != f) for f in range(n_draws)]
        real = [(d, self._partitions(x[d], ks, self.random_state)) for d in draws]
        fake = [(d, self._partitions(null[d], ks, self.random_state)) for d in draws]
        full = self._partitions(x, ks, self.random_state)
        scores: dict[int, float] = {}
        eligible = []
        from sklearn.metrics import silhouette_score

        se: dict[int, float] = {}
        for k in ks:
            a_real = _pairwise_aris([(d, p[k]) for d, p in real])
            a_null = _pairwise_aris([(d, p[k]) for d, p in fake])
            excess = (a_real.mean() if len(a_real) else 0.0) - (a_null.mean() if len(a_null) else 0.0)
            # standard error of the stability on the data (the null's is the same for every candidate's
            # neighbours and is left out): the pairs share folds, so n_draws (not the pair count) independent
            se[k] = float(np.sqrt(a_real.var() / n_draws)) if len(a_real) else 0.0
            n_found = len(np.unique(full[k]))
            scores[k] = excess + (silhouette_score(x, full[k], metric="cosine") if 1 < n_found < m else -1.0)
            sizes = np.bincount(full[k])
            if np.median(sizes[sizes > 0]) * n / m >= min_size:
                eligible.append(k)
        eligible = eligible or [lo]
        best = max(scores[k] for k in eligible)
        if self.method == "consensus":
            # choose k for stability (the one-standard-error rule): the fewest themes whose excess stability
            # + silhouette is within ``k_plateau`` standard errors of the best. On real text the score rises
            # from the degenerate small k to a noisy plateau (a 10-fold estimate moves by +-0.1 between 80%
            # subsamples of 100 quotes); the arg-max wandered over the plateau (GP corpus: k 5-8 across
            # subsamples, subsample ARI 0.645), its start moves less
            k_best = max(eligible, key=lambda k: scores[k])
            return min(k for k in eligible if scores[k] >= best - self.k_plateau * se[k_best]), scores
        # among near-ties, the most granular k: the score curve is flat near its top on real text, and
        # taking its arg-max made k jump between subsamples (NHS: 4-20 themes, subsample ARI 0.46 -> 0.57)
        return max(k for k in eligible if scores[k] >= best - self.k_tolerance), scores

    def fit(self, texts: Sequence[str], embeddings: np.ndarray) -> TopicModel:
        texts = [str(t) for t in texts]
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or len(emb) != len(texts):
            raise ValueError(f"embeddings must be (n_texts, dim) = ({len(texts)}, dim); got {emb.shape}")
        if len(texts) < 4:
            raise ValueError(f"a topic model needs at least 4 quotes; got {len(texts)}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}")
        keys_all = _hash_keys(texts, emb)
        # the canonical order; rows are read through it (``emb[order[i]]``), never copied as a whole: at a
        # million quotes a reordered copy would be 1.5 GB
        order = np.lexsort((np.arange(len(texts)), keys_all))
        keys = keys_all[order]
        n = len(order)
        # above max_fit_samples, fit on the quotes whose hash keys come first: a pseudo-random sample that
        # depends on the data alone, so the seed cannot change the themes at any size
        fit_idx = np.arange(n) if n <= self.max_fit_samples else np.sort(
            np.argsort(keys % 2_147_483_629, kind="stable")[: self.max_fit_samples])
        x_fit = emb[order[fit_idx]]
        from sklearn.decomposition import PCA

        n_comp = int(min(self.n_components, len(fit_idx) - 1, emb.shape[1]))
        self.reducer_ = PCA(n_components=n_comp, svd_solver="full" if len(fit_idx) <= 20_000 else "randomized",
                            random_state=self.random_state).fit(x_fit)
        z_fit = self.reducer_.transform(x_fit)
        self.k_scores_: dict[int, float] = {}
        self.reappearance_ = None
        if self.method != "hdbscan":
            from contextlib import nullcontext

            from threadpoolctl import threadpool_limits

            # the consensus runs hundreds of k-means fits on small matrices: a second BLAS thread only spins
            # there (measured: 0.88 -> 0.40 CPU-s for five 1,600 x 19 fits), and one thread gives the same
            # floats on every machine
            with threadpool_limits(1) if self.method == "consensus" else nullcontext():
                if self.n_topics == "auto":
                    k, self.k_scores_ = self._choose_k(z_fit, keys[fit_idx], n)
                else:
                    k = int(self.n_topics)
                if self.method == "consensus":
                    fit_labels, self.reappearance_ = _bagged(z_fit, k, keys[fit_idx], self.stability_draws if len(z_fit) <= 1000
                                                                  else min(self.stability_draws, 10))
                else:
                    fit_labels = np.asarray(self._partitions(z_fit, [k], self.random_state)[k])
        else:
            fit_labels = self._hdbscan(x_fit)
        # centroids in the (normalised) embedding space; assign every quote to the nearest
        labels_canon = np.full(n, -1, dtype=np.int64)
        labels_canon[fit_idx] = fit_labels
        ids = sorted(set(fit_labels.tolist()) - {-1})
        cent = np.stack([x_fit[fit_labels == t].mean(0) for t in ids])
        del x_fit
        cent /= np.linalg.norm(cent, axis=1, keepdims=True)
        rest = np.setdiff1d(np.arange(n), fit_idx)
        if len(rest):  # block by block from the vectors as given (a memory map stays one)
            labels_canon[rest] = assign_nearest(emb, order[rest], NearestCentroid(np.asarray(ids), cent),
                                                executor=self.executor)
        if self.method == "hdbscan":
            labels_canon = self._reassign_outliers(emb, order, labels_canon, ids, cent)
        # topic ids: by size (desc), ties by canonical position of the first member
        sizes = {t: int((labels_canon == t).sum()) for t in ids}
        first = {t: int(np.flatnonzero(labels_canon == t)[0]) for t in ids}
        ranked = sorted(ids, key=lambda t: (-sizes[t], first[t]))
        reappear = self.reappearance_ or {}
        self.reappearance_ = np.array([reappear.get(old, np.nan) for old in ranked], dtype=float)
        lookup = np.full(max(ids) + 2, -1, dtype=np.int64)  # old id -> new id; the last slot: -1 stays -1
        lookup[np.asarray(ranked, dtype=np.int64)] = np.arange(len(ranked))
        labels_canon = lookup[labels_canon]
        labels = np.empty(n, dtype=np.int64)
        labels[order] = labels_canon
        self.labels_ = labels
        self.n_topics_ = len(ranked)
        self.centroids_ = _class_means(emb, labels, self.n_topics_)
        self.centroids_ /= np.linalg.norm(self.centroids_, axis=1, keepdims=True)
        self.topic_info_ = self._describe(texts, emb)
        return self

    def _hdbscan(self, x: np.ndarray) -> np.ndarray:
        from hdbscan import HDBSCAN
        from umap import UMAP

        n = len(x)
        reduced = UMAP(n_neighbors=min(15, n - 1), n_components=5, min_dist=0.0, metric="cosine",
                       random_state=self.random_state).fit_transform(x)
        min_size = self.min_topic_size or max(3, min(10, n // 25))
        labels = HDBSCAN(min_cluster_size=min_size, metric="euclidean", cluster_selection_method="eom",
                         prediction_data=False).fit(reduced).labels_
        if (labels >= 0).sum() == 0:
            labels = np.zeros(n, dtype=np.int64)
        return labels

    def _reassign_outliers(self, x, order, labels, ids, cent):
        """``labels`` in the canonical order; ``x[order[i]]`` is canonical quote ``i``'s vector."""
        out = labels.copy()
        outliers = np.flatnonzero(out == -1)
        if len(outliers) == 0:
            return out
        sims = x[order[outliers]] @ cent.T
        best = sims.max(1)
        # reassign the most confident first until at most max_outlier_share remain unassigned
        keep_unassigned = int(np.floor(self.max_outlier_share * len(out)))
        n_reassign = max(0, len(outliers) - keep_unassigned)
        order = np.argsort(-best, kind="stable")[:n_reassign]
        out[outliers[order]] = np.asarray(ids)[sims[order].argmax(1)]
        return out

    # -- description -------------------------------------------------------------------------------
    def _describe(self, texts: Sequence[str], emb: np.ndarray) -> pd.DataFrame:
        from .terms import Lemmatizer, topic_terms

        lemmatizer = self.lemmatizer or Lemmatizer()
        cap = 20_000
        if len(texts) > cap:  # label from a seeded sample of each topic's quotes
            rng = np.random.default_rng(self.random_state)
            idx = np.sort(rng.choice(len(texts), cap, replace=False))
        else:
            idx = np.arange(len(texts))
        lemmas = lemmatizer([texts[i] for i in idx])
        embed = None
        if self.embedder is not None:
            from ..embedding import embed_texts

            def embed(words):
                return np.asarray(embed_texts(words, self.embedder).vectors)

        ids = list(range(self.n_topics_))
        terms = topic_terms(lemmas, self.labels_[idx], ids, self.centroids_, embed)
        rows = []
        for t in ids:
            members = np.flatnonzero(self.labels_ == t)
            sims = _row_dots(emb, members, self.centroids_[t])
            rep = members[np.argsort(-sims, kind="stable")[: self.n_representative]]
            label_terms = terms[t]["mmr"][:4] or terms[t]["ctfidf"][:4]
            rows.append({"topic": t, "label": ", ".join(label_terms) or f"topic {t}", "n_quotes": len(members),
                         "terms": list(terms[t]["ctfidf"]), "mmr_terms": list(terms[t]["mmr"]),
                         "representative": [int(i) for i in rep],
                         "reappearance": float(self.reappearance_[t])})
        return pd.DataFrame(rows, columns=list(TOPIC_INFO_COLUMNS))

    def _check(self) -> None:
        if not hasattr(self, "labels_"):
            raise NotFittedError("This TopicModel instance is not fitted yet. Call 'fit' with appropriate "
                                 "arguments before using this estimator.")

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        """Nearest theme centroid (cosine) for new quotes."""
        self._check()
        return (np.asarray(embeddings, dtype=np.float32) @ self.centroids_.T).argmax(1)

    def get_params(self, deep: bool = False) -> dict:
        return {k: getattr(self, k) for k in (
            "n_topics", "method", "k_range", "min_topic_size", "n_components", "stability_draws", "subsample",
            "max_fit_samples", "k_plateau", "k_tolerance", "max_outlier_share", "n_representative", "random_state", "embedder", "lemmatizer", "executor")}
