"""kNN over hidden representations: normalisation, FAISS search, ``p_knn``, backoff and tuning.

Notation, fixed once for the module: N training representations, n queries, d features,
k neighbours, C classes. Labels are the integers ``0 .. C-1`` (NLI: 0 entailment, 1 neutral,
2 contradiction; a HANS model still predicts these 3 classes).

The method (Rajani et al., 2020):

1. Dataset-wise normalisation with the *training* statistics,
   ``h~ = (h - mu) / (sigma + eps)``; queries use the training ``mu`` and ``sigma``.
2. The k smallest squared L2 distances ``d_i`` (FAISS ``IndexFlatL2``: exact; or an
   approximate ``IndexIVFFlat`` / ``IndexHNSWFlat`` for large N, see :data:`INDEXES`).
3. ``w_i = softmax(-d_i / T)`` over the k neighbours and
   ``p_knn(y) = sum of w_i over the neighbours labelled y``  (:func:`knn_proba`).
4. Backoff: ``argmax p_model`` if ``max p_model > tau``, else ``argmax p_knn``
   (:func:`backoff`). k, T and tau are chosen on the validation split (:func:`tune`).

Every check raises a :class:`ValueError` that names the offending value and what was expected.
"""
from __future__ import annotations

import numbers
import warnings

import faiss
import numpy as np
import pandas as pd

from . import timing
from .checks import (check_choice, check_int, check_label_map, check_labels, check_matrix,
                     check_positive, check_proba, check_real, check_reps, check_same_length,
                     check_same_shape, check_unit_interval, shape_str)

__all__ = [
    "DEFAULT_KS",
    "DEFAULT_TEMPERATURES",
    "DEFAULT_TAUS",
    "DEFAULT_LAMBDAS",
    "INDEXES",
    "NotFittedError",
    "KNN",
    "ivf_nlist",
    "knn_proba",
    "neighbor_weights",
    "backoff",
    "interpolate",
    "tune",
    "tune_interpolation",
    "tune_slice_taus",
    "slice_backoff",
]

DEFAULT_KS = (1, 2, 4, 8, 16, 32, 64)
"""Numbers of neighbours tried by :func:`tune`."""

DEFAULT_TEMPERATURES = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
"""Temperatures tried by :func:`tune`: half-decades from 0.1 to 1000.

Squared distances between normalised vectors grow with the dimension (two independent
standardised 384-d vectors are about ``2 * 384 = 768`` apart), so gaps between neighbours are
of order 1-100. T = 0.1 makes the weights essentially 1-NN; T = 1000 makes them nearly uniform
(a majority vote over the k).
"""

DEFAULT_TAUS = tuple(np.round(np.linspace(0.0, 1.0, 101), 2))
"""Backoff thresholds tried by :func:`tune`: 0.00, 0.01, ..., 1.00."""

DEFAULT_LAMBDAS = tuple(np.round(np.linspace(0.0, 1.0, 21), 2))
"""Interpolation weights tried by :func:`tune_interpolation`: 0.00, 0.05, ..., 1.00."""


INDEXES = ("flat", "ivf", "hnsw")
"""FAISS index types accepted by :class:`KNN`:

- ``"flat"``: ``IndexFlatL2``, exact brute-force search (the default and the paper's choice);
- ``"ivf"``: ``IndexIVFFlat``, an inverted file: k-means cells over the training set, and
  each query scans the ``nprobe`` nearest cells only;
- ``"hnsw"``: ``IndexHNSWFlat`` (M = 32), a navigable small-world graph searched with a
  beam of width ``ef_search``.

Both approximate indexes return true squared L2 distances, but may miss some of the exact k
nearest neighbours; ``benchmarks/bench_search.py`` measures their recall and speed-up.
"""

IVF_MIN_POINTS_PER_LIST = 39
"""FAISS's k-means wants at least 39 training points per cell; :class:`KNN` caps ``nlist`` so."""

HNSW_M = 32
"""Graph degree of the ``"hnsw"`` index."""


def ivf_nlist(n):
    """Number of IVF cells for ``n`` training points: ``round(4 sqrt(n))``, capped at ``n // 39``.

    Examples
    --------
    >>> ivf_nlist(100_000), ivf_nlist(1_000_000), ivf_nlist(1_666), ivf_nlist(10)
    (1265, 4000, 42, 1)
    """
    n = check_int(n, "n", low=1)
    return max(1, min(int(round(4 * np.sqrt(n))), n // IVF_MIN_POINTS_PER_LIST))


class NotFittedError(ValueError):
    """Raised when a :class:`KNN` is queried before :meth:`KNN.fit`."""


# ----------------------------------------------------------------------------------------------
# p_knn
# ----------------------------------------------------------------------------------------------
def neighbor_weights(distances, *, temperature):
    """Each neighbour's weight in the kNN vote: ``softmax(-d / T)`` over a query's k neighbours.

    Computed stably (the row minimum is subtracted first). :func:`knn_proba` sums these
    weights per label; the neighbour explorer shows them.

    Example
    -------
    >>> np.round(neighbor_weights([[0.0, 1.0, 2.0]], temperature=1.0), 3)
    array([[0.665, 0.245, 0.09 ]])
    """
    temperature = check_positive(temperature, "temperature")
    d = check_matrix(distances, "distances")
    w = np.exp(-(d - d.min(axis=1, keepdims=True)) / temperature)
    return w / w.sum(axis=1, keepdims=True)


def knn_proba(distances, neighbor_labels, *, temperature, n_classes=3):
    """Class probabilities from the k nearest neighbours, weighted by ``softmax(-d / T)``.

    Parameters
    ----------
    distances : array-like of shape (n, k)
        Squared L2 distances of each query to its k neighbours (any order), e.g. the first
        output of :meth:`KNN.kneighbors`.
    neighbor_labels : array-like of int, shape (n, k)
        Label of each of those neighbours, integers in ``0 .. n_classes-1``.
    temperature : float
        Softmax temperature T > 0. Small T puts all weight on the nearest neighbour; large T
        gives every one of the k the same weight (a majority vote).
    n_classes : int, default=3
        Number of classes C.

    Returns
    -------
    p_knn : ndarray of shape (n, C), float64
        ``p_knn[i, y] = sum_j w_ij [label_ij == y]`` with
        ``w_ij = exp(-d_ij / T) / sum_l exp(-d_il / T)``. Rows sum to 1.

    Notes
    -----
    The softmax is computed stably: the row minimum is subtracted from the distances first,
    so the nearest neighbour always has weight ``exp(0) = 1`` before normalising and no row
    can underflow to all zeros, however large the distances or small T.

    Examples
    --------
    One query, neighbours at squared distances 0, 1, 2 labelled 0, 1, 0, with T = 1:
    ``p0 = (1 + e^-2) / (1 + e^-1 + e^-2) = 0.755``.

    >>> p = knn_proba([[0.0, 1.0, 2.0]], [[0, 1, 0]], temperature=1.0)
    >>> np.round(p, 3)
    array([[0.755, 0.245, 0.   ]])
    """
    n_classes = check_int(n_classes, "n_classes", low=1)
    temperature = check_positive(temperature, "temperature")
    d = check_matrix(distances, "distances")
    labels = check_labels(neighbor_labels, n_classes, name="neighbor_labels", ndim=2)
    check_same_shape(d, labels, "distances", "neighbor_labels")

    w = neighbor_weights(d, temperature=temperature)
    p = np.zeros((d.shape[0], n_classes), dtype=np.float64)
    rows = np.broadcast_to(np.arange(d.shape[0])[:, None], labels.shape)
    np.add.at(p, (rows, labels), w)
    return p


# ----------------------------------------------------------------------------------------------
# The estimator
# ----------------------------------------------------------------------------------------------
class KNN:
    """kNN classifier over (normalised) representations, backed by a FAISS index.

    By default the index is an exact ``IndexFlatL2``; ``index="ivf"`` or ``"hnsw"`` trade
    recall for speed on large training sets (see :data:`INDEXES`, and the measured recall and
    speed-ups in ``benchmarks/``).

    Parameters
    ----------
    k : int, default=16
        Number of neighbours, ``1 <= k <= N`` (checked in :meth:`fit`).
    temperature : float, default=1.0
        Softmax temperature T > 0 for the neighbour weights (see :func:`knn_proba`).
        Distances between normalised 384-d vectors are of order hundreds, so useful values
        span 0.1 to 1000 (:data:`DEFAULT_TEMPERATURES`).
    normalize : bool, default=True
        Standardise every dimension with the training mean and (population) standard
        deviation: ``h~ = (h - mu) / (sigma + eps)``. If False, representations are used as
        given (``mu_ = 0``, ``sigma_ = 1``, no eps).
    n_classes : int, default=3
        Number of classes C; labels must be integers in ``0 .. C-1``.
    eps : float, default=1e-6
        Added to ``sigma`` for numerical safety. A dimension that is constant over the
        training set (``sigma`` zero up to rounding) is scaled by 1 instead, as
        scikit-learn's ``StandardScaler`` does: dividing it by eps would blow any query
        difference in it up to ~1e6 and decide every neighbour.
    index : {"flat", "ivf", "hnsw"}, default="flat"
        The FAISS index (:data:`INDEXES`). ``"flat"`` is exact. ``"ivf"`` clusters the
        normalised training representations into ``nlist_ =`` :func:`ivf_nlist` ``(N)``
        cells (about ``4 sqrt(N)``, at least 39 points per cell) with k-means and scans
        ``nprobe`` cells per query. ``"hnsw"`` builds a graph of degree 32 and searches it
        with a beam of ``ef_search`` candidates.
    nprobe : int, default=16
        Cells scanned per query by ``"ivf"`` (clipped to ``nlist_``; ``nprobe >= nlist_``
        gives exactly the flat index's neighbours). Ignored by the other indexes.
    ef_search : int, default=64
        Beam width of ``"hnsw"`` searches, raised to k where smaller. Larger is slower and
        more accurate. Ignored by the other indexes.
    seed : int, default=0
        Seeds the k-means of ``"ivf"``, so that the same data always give the same cells
        and the same neighbours. ``"hnsw"`` is built on one thread, which makes its graph
        reproducible too (FAISS seeds its level generator with a constant).

    Attributes
    ----------
    mu_ : ndarray of shape (d,), float64
        Per-dimension mean of the training representations (zeros if ``normalize=False``).
    scale_ : ndarray of shape (d,), float64
        What each dimension is divided by: ``sigma_ + eps``, or 1 where ``sigma_`` is zero.
    sigma_ : ndarray of shape (d,), float64
        Per-dimension population standard deviation (ones if ``normalize=False``).
    index_ : faiss.IndexFlatL2, faiss.IndexIVFFlat or faiss.IndexHNSWFlat
        Index over the normalised training representations.
    nlist_ : int
        Number of IVF cells (``"ivf"`` only).
    labels_ : ndarray of shape (N,), int64
        Training labels, in fit order (``indices`` from :meth:`kneighbors` index into it).
    classes_ : ndarray of shape (C,)
        ``np.arange(n_classes)``; the column order of :meth:`predict_proba`.
    n_samples_fit_ : int
        N, the number of training representations.
    n_features_in_ : int
        d, the number of features.

    Notes
    -----
    ``__init__`` only stores its arguments; :meth:`fit` checks them. :meth:`predict` breaks
    ties in ``p_knn`` toward the smaller label (``np.argmax``). FAISS orders neighbours at
    exactly equal distance by itself; the order is deterministic for the same input.

    Examples
    --------
    Four points on the unit square; after normalisation they sit at (+-1, +-1).

    >>> reps = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    >>> knn = KNN(k=2, temperature=1.0).fit(reps, [0, 0, 1, 1])
    >>> np.round(knn.predict_proba([[0.0, 0.4]]), 2)
    array([[0.69, 0.31, 0.  ]])
    >>> knn.predict([[0.0, 0.4], [0.0, 0.9]])
    array([0, 1])

    The query (0, 0.4) normalises to (-1, -0.2): squared distance 0.64 to (0, 0) (label 0)
    and 1.44 to (0, 1) (label 1), so ``p0 = 1 / (1 + e^-0.8) = 0.69``.
    """

    def __init__(self, k=16, temperature=1.0, normalize=True, n_classes=3, eps=1e-6, *,
                 index="flat", nprobe=16, ef_search=64, seed=0):
        self.k = k
        self.temperature = temperature
        self.normalize = normalize
        self.n_classes = n_classes
        self.eps = eps
        self.index = index
        self.nprobe = nprobe
        self.ef_search = ef_search
        self.seed = seed

    def __repr__(self):
        extra = ""
        if self.index == "ivf":
            extra = f", nprobe={self.nprobe!r}, seed={self.seed!r}"
        elif self.index == "hnsw":
            extra = f", ef_search={self.ef_search!r}"
        return (
            f"KNN(k={self.k!r}, temperature={self.temperature!r}, normalize={self.normalize!r}, "
            f"n_classes={self.n_classes!r}, eps={self.eps!r}, index={self.index!r}{extra})"
        )

    # -- fitting ------------------------------------------------------------------------------
    @timing.timed('kNN')
    def fit(self, reps, labels):
        """Learn the normalisation statistics and build the FAISS index.

        Parameters
        ----------
        reps : array-like of shape (N, d)
            Training representations; cast to float32. Must be finite.
        labels : array-like of int, shape (N,)
            Training labels in ``0 .. n_classes-1``.

        Returns
        -------
        self : KNN
            The fitted estimator.

        Examples
        --------
        >>> knn = KNN(k=1).fit([[0.0, 0.0], [2.0, 4.0]], [0, 2])
        >>> knn.mu_, knn.sigma_, knn.n_samples_fit_, knn.n_features_in_
        (array([1., 2.]), array([1., 2.]), 2, 2)
        """
        n_classes = check_int(self.n_classes, "n_classes", low=1)
        check_positive(self.temperature, "temperature")
        eps = check_real(self.eps, "eps")
        if eps < 0:
            raise ValueError(f"eps={eps} but expected eps >= 0")
        if not isinstance(self.normalize, (bool, np.bool_)):
            raise ValueError(f"normalize must be True or False; got {self.normalize!r}")
        index_type = check_choice(self.index, "index", INDEXES)
        nprobe = check_int(self.nprobe, "nprobe", low=1)
        ef_search = check_int(self.ef_search, "ef_search", low=1)
        seed = check_int(self.seed, "seed", low=0)
        X = check_reps(reps, "reps")
        y = check_labels(labels, n_classes, "labels")
        check_same_length(len(X), len(y), "reps", "labels")
        n, d = X.shape
        if isinstance(self.k, (bool, np.bool_)) or not isinstance(self.k, numbers.Integral):
            raise ValueError(f"k must be an integer; got {self.k!r} ({type(self.k).__name__})")
        k = int(self.k)
        if k < 1:
            raise ValueError(f"k={k} but expected k >= 1")
        if k > n:
            raise ValueError(f"k={k} but only {n} training representations; expected k <= {n}")

        if self.normalize:
            X64 = X.astype(np.float64)
            mu = X64.mean(axis=0)
            sigma = X64.std(axis=0)  # population std (ddof=0)
            # constant dimensions (zero variance up to rounding) get scale 1, like sklearn
            constant = sigma < 10 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(mu))
            scale = np.where(constant, 1.0, sigma + eps)
        else:
            mu = np.zeros(d)
            sigma = np.ones(d)
            scale = np.ones(d)
        self._eps = eps  # the eps the statistics were fitted with
        self.mu_, self.sigma_, self.scale_ = mu, sigma, scale
        self.n_samples_fit_, self.n_features_in_ = n, d
        self.labels_ = y
        self.classes_ = np.arange(n_classes)
        Z = self._normalise(X)
        self.__dict__.pop("nlist_", None)  # from an earlier fit with index="ivf"
        if index_type == "flat":
            index = faiss.IndexFlatL2(d)
            index.add(Z)
        elif index_type == "ivf":
            self.nlist_ = ivf_nlist(n)
            index = faiss.IndexIVFFlat(faiss.IndexFlatL2(d), d, self.nlist_)
            index.cp.seed = seed
            index.train(Z)
            index.add(Z)
            index.make_direct_map()  # reconstruct_n, for leave-one-out queries
            index.nprobe = min(nprobe, self.nlist_)
        else:
            index = faiss.IndexHNSWFlat(d, HNSW_M)
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)  # a parallel build inserts in a racy order
            try:
                index.add(Z)
            finally:
                faiss.omp_set_num_threads(threads)
            index.hnsw.efSearch = ef_search
        self.index_ = index
        return self

    # -- helpers ------------------------------------------------------------------------------
    def _check_is_fitted(self):
        if not hasattr(self, "index_"):
            raise NotFittedError("This KNN is not fitted yet; call fit(reps, labels) first")

    def _normalise(self, X):
        Z = X.astype(np.float64)
        if self.normalize:
            Z = (Z - self.mu_) / self.scale_
        with np.errstate(over="ignore", invalid="ignore"):
            Z32 = np.ascontiguousarray(Z, dtype=np.float32)
            # FAISS computes squared distances in float32: they must stay finite too
            norms = np.einsum("ij,ij->i", Z32.astype(np.float64), Z32.astype(np.float64))
        if not np.isfinite(Z32).all() or not (norms < np.finfo(np.float32).max / 4).all():
            bad = ~np.isfinite(Z32).all(axis=1) | ~(norms < np.finfo(np.float32).max / 4)
            raise ValueError(
                f"{int(bad.sum())} of {len(Z32)} representations (rows {np.flatnonzero(bad)[:5].tolist()}) "
                "are out of float32 range after normalisation (non-finite values, or squared "
                "distances that would overflow); expected values whose normalised squared norm "
                f"stays below {np.finfo(np.float32).max / 4:.3g}. Check the representations' "
                "scale or the training statistics (mu_, scale_)")
        return Z32

    def _check_query(self, reps):
        X = check_reps(reps, "reps")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"reps have {X.shape[1]} features but KNN was fitted with {self.n_features_in_}"
            )
        return X

    # -- queries ------------------------------------------------------------------------------
    def transform(self, reps):
        """Normalise representations with the *training* mean and standard deviation.

        Parameters
        ----------
        reps : array-like of shape (n, d)
            Representations to normalise.

        Returns
        -------
        reps_normalised : ndarray of shape (n, d), float32
            ``(reps - mu_) / scale_`` (``scale_ = sigma_ + eps``, 1 for constant dimensions),
            or ``reps`` unchanged if ``normalize=False``.

        Examples
        --------
        Training mean (1, 2), std (1, 2); the query (3, 2) is 2 stds right of the mean:

        >>> knn = KNN(k=1).fit([[0.0, 0.0], [2.0, 4.0]], [0, 1])
        >>> np.round(knn.transform([[3.0, 2.0]]), 3)
        array([[2., 0.]], dtype=float32)
        """
        self._check_is_fitted()
        return self._normalise(self._check_query(reps))

    @timing.timed('kNN')
    def kneighbors(self, reps=None, *, k=None, exclude_self=False):
        """The k nearest training representations of each query, nearest first.

        Parameters
        ----------
        reps : array-like of shape (n, d) or None, default=None
            Query representations (normalised with the training statistics). None queries
            the training set itself, leaving each point out of its own neighbours.
        k : int or None, default=None
            Number of neighbours; defaults to ``self.k``. At most N, or N - 1 when leaving
            each point out.
        exclude_self : bool, default=False
            If True, ``reps`` are the training representations in fit order (n = N) and query
            i leaves training point i out, exactly as ``reps=None`` does. Use it to query
            training points held elsewhere (e.g. a cached array) without refitting.

        Returns
        -------
        squared_distances : ndarray of shape (n, k), float32
            FAISS's squared L2 distances in the normalised space, untouched, ascending.
        indices : ndarray of shape (n, k), int64
            Row indices into the training set (and :attr:`labels_`).

        Notes
        -----
        Leaving self out searches k + 1 neighbours and drops query i's own index. When the
        own index is not among them (exact duplicates at distance 0 can push it out), the
        last column is dropped instead, so every row still has k other training points.

        Examples
        --------
        >>> knn = KNN(k=1, normalize=False).fit([[0.0], [1.0], [3.0]], [0, 1, 1])
        >>> knn.kneighbors([[2.5]], k=2)
        (array([[0.25, 2.25]], dtype=float32), array([[2, 1]]))
        >>> knn.kneighbors()  # each training point's nearest *other* point
        (array([[1.],
               [1.],
               [4.]], dtype=float32), array([[1],
               [0],
               [1]]))
        """
        self._check_is_fitted()
        if not isinstance(exclude_self, (bool, np.bool_)):
            raise ValueError(f"exclude_self must be True or False; got {exclude_self!r}")
        n_train = self.n_samples_fit_
        leave_out = reps is None or bool(exclude_self)
        k = check_int(self.k if k is None else k, "k", low=1)
        if leave_out:
            if k > n_train - 1:
                raise ValueError(
                    f"k={k} but only {n_train - 1} other training representations when each "
                    f"of the {n_train} training points is left out; expected k <= {n_train - 1}"
                )
        elif k > n_train:
            raise ValueError(
                f"k={k} but only {n_train} training representations; expected k <= {n_train}"
            )

        if reps is None:
            Z = self.index_.reconstruct_n(0, n_train)
        else:
            Z = self._normalise(self._check_query(reps))
            if leave_out and len(Z) != n_train:
                raise ValueError(
                    f"exclude_self=True needs the {n_train} training representations in fit "
                    f"order; got {len(Z)} rows"
                )

        n_search = k + int(leave_out)
        params = None
        if isinstance(self.index_, faiss.IndexHNSW):  # a beam narrower than k loses neighbours
            params = faiss.SearchParametersHNSW(efSearch=max(self.index_.hnsw.efSearch, n_search))
        D, I = self.index_.search(np.ascontiguousarray(Z, dtype=np.float32), n_search, params=params)
        if (I < 0).any():  # FAISS marks missing results with -1; only approximate indexes do
            hint = ""
            if isinstance(self.index_, faiss.IndexIVF):
                hint = (f"; the {self.index_.nprobe} cells scanned (nprobe) of {self.index_.nlist} "
                        "hold too few points: increase nprobe")
            raise ValueError(
                f"FAISS returned fewer than {k} neighbours for {int((I < 0).any(axis=1).sum())} "
                f"of {len(I)} queries{hint}"
            )
        if leave_out:
            drop = I == np.arange(len(Z))[:, None]
            drop[~drop.any(axis=1), -1] = True
            keep = ~drop
            D = D[keep].reshape(len(Z), k)
            I = I[keep].reshape(len(Z), k)
        return D, I.astype(np.int64)

    @timing.timed('kNN')
    def predict_proba(self, reps=None):
        """``p_knn`` for each query, from ``self.k`` neighbours and ``self.temperature``.

        Parameters
        ----------
        reps : array-like of shape (n, d) or None, default=None
            Query representations; None gives leave-one-out probabilities of the training set.

        Returns
        -------
        p_knn : ndarray of shape (n, C), float64
            Columns in :attr:`classes_` order; rows sum to 1.

        Examples
        --------
        >>> knn = KNN(k=2, temperature=1.0, normalize=False).fit([[0.0], [1.0], [3.0]], [0, 1, 1])
        >>> np.round(knn.predict_proba([[0.0]]), 3)  # d = 0 (label 0) and 1 (label 1)
        array([[0.731, 0.269, 0.   ]])
        """
        self._check_is_fitted()
        D, I = self.kneighbors(reps)
        return knn_proba(D, self.labels_[I], temperature=self.temperature, n_classes=len(self.classes_))

    def predict(self, reps=None):
        """The most probable class under ``p_knn``.

        Parameters
        ----------
        reps : array-like of shape (n, d) or None, default=None
            Query representations; None gives leave-one-out predictions for the training set.

        Returns
        -------
        predictions : ndarray of shape (n,), int64
            ``argmax p_knn`` per query.

        Notes
        -----
        Ties (equal probabilities) go to the smaller label, as ``np.argmax`` does.

        Examples
        --------
        >>> knn = KNN(k=1, normalize=False).fit([[0.0], [1.0], [3.0]], [0, 1, 2])
        >>> knn.predict([[0.2], [2.6], [-5.0]])
        array([0, 2, 0])
        """
        return np.argmax(self.predict_proba(reps), axis=1).astype(np.int64)


# ----------------------------------------------------------------------------------------------
# Combining the model and kNN
# ----------------------------------------------------------------------------------------------
def backoff(p_model, p_knn, tau):
    """Predict with the model where it is confident, else with kNN.

    Parameters
    ----------
    p_model : array-like of shape (n, C)
        The model's class probabilities (softmax outputs, not logits).
    p_knn : array-like of shape (n, C)
        kNN class probabilities (:meth:`KNN.predict_proba`).
    tau : float
        Confidence threshold in [0, 1].

    Returns
    -------
    predictions : ndarray of shape (n,), int64
        ``argmax p_model`` where ``max p_model > tau``, else ``argmax p_knn``.

    Notes
    -----
    The comparison is strict: a model exactly at ``max p_model == tau`` backs off to kNN.
    So ``tau=1`` always uses kNN, and ``tau=0`` always uses the model (any row of C
    probabilities has a maximum >= 1/C > 0). Ties inside either argmax go to the smaller label.

    Examples
    --------
    >>> p_model = [[0.9, 0.1, 0.0], [0.5, 0.4, 0.1]]
    >>> p_knn = [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    >>> backoff(p_model, p_knn, tau=0.5)  # row 2 is not > 0.5 confident: kNN says 1
    array([0, 1])
    """
    tau = check_unit_interval(tau, "tau")
    pm = check_proba(p_model, "p_model")
    pk = check_proba(p_knn, "p_knn")
    check_same_shape(pm, pk, "p_model", "p_knn")
    confident = pm.max(axis=1) > tau
    return np.where(confident, pm.argmax(axis=1), pk.argmax(axis=1)).astype(np.int64)


def interpolate(p_model, p_knn, lam):
    """Mix the two distributions: ``lam * p_knn + (1 - lam) * p_model``.

    Parameters
    ----------
    p_model : array-like of shape (n, C)
        The model's class probabilities.
    p_knn : array-like of shape (n, C)
        kNN class probabilities.
    lam : float
        Weight of kNN in [0, 1]: 0 is the model alone, 1 is kNN alone.

    Returns
    -------
    p : ndarray of shape (n, C), float64
        The mixture; rows sum to 1 when both inputs' rows do.

    Examples
    --------
    >>> interpolate([[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]], lam=0.25)
    array([[0.75, 0.25, 0.  ]])
    """
    lam = check_unit_interval(lam, "lam")
    pm = check_proba(p_model, "p_model")
    pk = check_proba(p_knn, "p_knn")
    check_same_shape(pm, pk, "p_model", "p_knn")
    return lam * pk + (1.0 - lam) * pm


# ----------------------------------------------------------------------------------------------
# Tuning on the validation split
# ----------------------------------------------------------------------------------------------
def _sorted_unique(values, name, check):
    try:
        vals = list(values)
    except TypeError:
        raise ValueError(f"{name} must be a sequence; got {values!r}") from None
    if not vals:
        raise ValueError(f"{name} is empty; expected at least one value")
    return sorted({check(v, name) for v in vals})


@timing.timed('kNN')
def tune(
    train_reps,
    train_labels,
    val_reps,
    val_labels,
    p_model_val,
    *,
    ks=DEFAULT_KS,
    temperatures=DEFAULT_TEMPERATURES,
    taus=DEFAULT_TAUS,
    normalize=True,
    n_classes=3,
    label_map=None,
):
    """Grid-search k, T and tau for :func:`backoff`, scored on the validation split.

    Parameters
    ----------
    train_reps : array-like of shape (N, d)
        Training representations (the kNN datastore).
    train_labels : array-like of int, shape (N,)
        Training labels in ``0 .. n_classes-1``.
    val_reps : array-like of shape (n, d)
        Validation representations (the queries). Never the test split.
    val_labels : array-like of int, shape (n,)
        Validation labels.
    p_model_val : array-like of shape (n, C)
        The model's probabilities on the validation split.
    ks : sequence of int, default=DEFAULT_KS = (1, 2, 4, ..., 64)
        Numbers of neighbours. Values above N are clipped to N (with a warning).
    temperatures : sequence of float, default=DEFAULT_TEMPERATURES = (0.1, 0.3, ..., 1000)
        Softmax temperatures. Squared distances between normalised 384-d representations are
        of order hundreds, so the default grid spans four orders of magnitude, from
        essentially 1-NN (0.1) to a near-uniform vote (1000).
    taus : sequence of float, default=DEFAULT_TAUS = (0.00, 0.01, ..., 1.00)
        Backoff thresholds in [0, 1].
    normalize : bool, default=True
        Passed to :class:`KNN`.
    n_classes : int, default=3
        Number of classes C.
    label_map : array-like of int, shape (C,), optional
        Maps each predicted class to the label it is scored against, e.g. ``[0, 1, 1]``
        for HANS, where a 3-class model's neutral and contradiction both count as
        non-entailment (1). ``val_labels`` are then compared with ``label_map[prediction]``.

    Returns
    -------
    best : dict
        The best row of ``grid``: ``k``, ``temperature``, ``tau``, ``model_acc``,
        ``knn_acc``, ``backoff_acc`` and ``knn_fraction`` (share of validation examples
        sent to kNN), as Python scalars.
    grid : pandas.DataFrame
        One row per (k, T, tau), ``len(ks) * len(temperatures) * len(taus)`` rows after
        sorting and de-duplicating each grid, with columns ``k``, ``temperature``, ``tau``,
        ``model_acc`` (constant), ``knn_acc`` (depends on k and T), ``backoff_acc`` and
        ``knn_fraction``.

    Notes
    -----
    Cost: one FAISS fit with the largest k and one search of the validation set; each k
    takes the first k columns, each T one :func:`knn_proba`, and all taus are scored at once.

    Ties in ``backoff_acc`` are broken by taking the *first* best row of ``grid``, which is
    sorted by k, then temperature, then tau, all ascending: the smallest k, then the smallest
    T, then the smallest tau (the least backoff) among the equally good settings.

    Examples
    --------
    kNN is right on both validation points; the model is right only where confident (0.9).

    >>> train = [[0.0], [1.0], [10.0], [11.0]]
    >>> best, grid = tune(train, [0, 0, 1, 1], [[0.5], [10.5]], [0, 1],
    ...                   [[0.9, 0.1, 0.0], [0.6, 0.4, 0.0]],
    ...                   ks=[1, 2], temperatures=[1.0], taus=[0.0, 0.5, 0.7, 1.0])
    >>> best["k"], best["tau"], best["model_acc"], best["backoff_acc"], len(grid)
    (1, 0.7, 0.5, 1.0, 8)

    tau = 0.5 still trusts the wrong 0.6; tau = 0.7 and 1.0 both reach 1.0 (kNN on the
    second point), and the tie goes to the smaller tau.
    """
    n_classes = check_int(n_classes, "n_classes", low=1)
    ks = _sorted_unique(ks, "ks", lambda v, name: check_int(v, "k", low=1))
    temperatures = _sorted_unique(temperatures, "temperatures", lambda v, n: check_positive(v, "temperature"))
    taus_arr = np.array(_sorted_unique(taus, "taus", lambda v, n: check_unit_interval(v, "tau")))

    n_train = len(np.asarray(train_labels).reshape(-1))
    if n_train >= 1 and ks[-1] > n_train:
        clipped = [k for k in ks if k > n_train]
        warnings.warn(
            f"ks {clipped} exceed the {n_train} training representations; clipped to k={n_train}",
            UserWarning,
            stacklevel=2,
        )
        ks = sorted({min(k, n_train) for k in ks})

    knn = KNN(k=ks[-1], temperature=temperatures[0], normalize=normalize, n_classes=n_classes)
    knn.fit(train_reps, train_labels)
    Xv = knn._check_query(val_reps)
    yv = check_labels(val_labels, n_classes, "val_labels")
    pm = check_proba(p_model_val, "p_model_val", n_classes=n_classes)
    check_same_length(len(Xv), len(yv), "val_reps", "val_labels")
    check_same_length(len(pm), len(yv), "p_model_val", "val_labels")

    to_label = check_label_map(label_map, n_classes)
    D, I = knn.kneighbors(Xv, k=ks[-1])
    neighbor_labels = knn.labels_[I]
    model_correct = to_label[pm.argmax(axis=1)] == yv
    model_acc = float(model_correct.mean())
    confident = pm.max(axis=1)[None, :] > taus_arr[:, None]  # (n_taus, n)
    knn_fraction = 1.0 - confident.mean(axis=1)

    blocks = []
    for k in ks:
        for T in temperatures:
            p_knn = knn_proba(D[:, :k], neighbor_labels[:, :k], temperature=T, n_classes=n_classes)
            knn_correct = to_label[p_knn.argmax(axis=1)] == yv
            backoff_acc = np.where(confident, model_correct[None, :], knn_correct[None, :]).mean(axis=1)
            blocks.append(
                pd.DataFrame(
                    {
                        "k": k,
                        "temperature": T,
                        "tau": taus_arr,
                        "model_acc": model_acc,
                        "knn_acc": float(knn_correct.mean()),
                        "backoff_acc": backoff_acc,
                        "knn_fraction": knn_fraction,
                    }
                )
            )
    grid = pd.concat(blocks, ignore_index=True)
    row = grid.loc[int(np.argmax(grid["backoff_acc"].to_numpy()))]
    best = {
        "k": int(row["k"]),
        "temperature": float(row["temperature"]),
        "tau": float(row["tau"]),
        "model_acc": float(row["model_acc"]),
        "knn_acc": float(row["knn_acc"]),
        "backoff_acc": float(row["backoff_acc"]),
        "knn_fraction": float(row["knn_fraction"]),
    }
    return best, grid


@timing.timed('kNN')
def tune_interpolation(p_model_val, p_knn_val, val_labels, *, lambdas=DEFAULT_LAMBDAS, label_map=None):
    """Choose the weight of :func:`interpolate` by validation accuracy.

    Parameters
    ----------
    p_model_val : array-like of shape (n, C)
        The model's probabilities on the validation split.
    p_knn_val : array-like of shape (n, C)
        kNN probabilities on the validation split.
    val_labels : array-like of int, shape (n,)
        Validation labels in ``0 .. C-1``.
    lambdas : sequence of float, default=DEFAULT_LAMBDAS = (0.00, 0.05, ..., 1.00)
        Candidate weights in [0, 1].
    label_map : array-like of int, shape (C,), optional
        As in :func:`tune`: predictions are scored as ``label_map[prediction]``.

    Returns
    -------
    best_lambda : float
        The weight with the highest accuracy; ties go to the smallest (the least kNN).
    accuracy : pandas.DataFrame
        Columns ``lam`` (ascending, de-duplicated) and ``accuracy``.

    Examples
    --------
    >>> lam, acc = tune_interpolation([[0.6, 0.4, 0.0], [0.6, 0.4, 0.0]],
    ...                               [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], [1, 0],
    ...                               lambdas=[0.0, 0.5, 1.0])
    >>> lam, acc["accuracy"].tolist()  # 0.5 and 1.0 tie; the smaller lambda wins
    (0.5, [0.5, 1.0, 1.0])
    """
    pm = check_proba(p_model_val, "p_model_val")
    pk = check_proba(p_knn_val, "p_knn_val")
    check_same_shape(pm, pk, "p_model_val", "p_knn_val")
    y = check_labels(val_labels, pm.shape[1], "val_labels")
    check_same_length(len(pm), len(y), "p_model_val", "val_labels")
    lams = np.array(_sorted_unique(lambdas, "lambdas", lambda v, n: check_unit_interval(v, "lam")))
    to_label = check_label_map(label_map, pm.shape[1])
    acc = np.array([(to_label[interpolate(pm, pk, lam).argmax(axis=1)] == y).mean() for lam in lams])
    table = pd.DataFrame({"lam": lams, "accuracy": acc})
    return float(lams[int(np.argmax(acc))]), table


# ----------------------------------------------------------------------------------------------
# Backoff with one threshold per slice (e.g. per HANS heuristic)
# ----------------------------------------------------------------------------------------------
def tune_slice_taus(p_model_val, p_knn_val, val_labels, val_slices, *, taus=DEFAULT_TAUS,
                    label_map=None) -> pd.DataFrame:
    """One backoff threshold per slice (e.g. per HANS heuristic), tuned on validation.

    The per-slice counterpart of :func:`tune`'s tau, with the same checks: what
    :func:`backoff` does with one tau, :func:`slice_backoff` does with one per slice.

    Parameters
    ----------
    p_model_val, p_knn_val : array-like of shape (n, C)
    val_labels : array-like of int, shape (n,)
    val_slices : array-like of shape (n,), hashable values
        The slice of each validation example.
    taus : sequence of float, default=DEFAULT_TAUS
        Candidates in [0, 1]; ties go to the smallest.
    label_map : array-like of int, shape (C,), optional
        As in :func:`tune`: predictions are scored as ``label_map[prediction]``.

    Returns
    -------
    DataFrame
        Indexed by slice (in order of first appearance): ``tau``, ``n``, ``val_acc``
        (backoff accuracy in the slice at that tau), ``val_model_acc``.

    Example
    -------
    >>> pm = np.array([[0.6, 0.4, 0], [0.6, 0.4, 0], [0.9, 0.1, 0], [0.9, 0.1, 0]])
    >>> pk = np.array([[0, 1.0, 0], [0, 1.0, 0], [0, 1.0, 0], [0, 1.0, 0]])
    >>> t = tune_slice_taus(pm, pk, [1, 1, 0, 0], ["a", "a", "b", "b"], taus=[0.0, 0.7, 1.0])
    >>> t["tau"].to_dict()
    {'a': 0.7, 'b': 0.0}
    """
    pm = check_proba(p_model_val, "p_model_val")
    pk = check_proba(p_knn_val, "p_knn_val")
    check_same_shape(pm, pk, "p_model_val", "p_knn_val")
    y = check_labels(val_labels, pm.shape[1], "val_labels")
    check_same_length(len(pm), len(y), "p_model_val", "val_labels")
    slices = np.asarray(val_slices)
    check_same_length(len(slices), len(y), "val_slices", "val_labels")
    taus = np.array(_sorted_unique(taus, "taus", lambda v, n: check_unit_interval(v, "tau")))
    to_label = check_label_map(label_map, pm.shape[1])
    model_ok = to_label[pm.argmax(1)] == y
    knn_ok = to_label[pk.argmax(1)] == y
    conf = pm.max(1)
    rows = {}
    for s in pd.unique(slices):
        m = slices == s
        acc = np.where(conf[m][None, :] > taus[:, None], model_ok[m][None, :], knn_ok[m][None, :]).mean(1)
        best = int(np.argmax(acc))
        rows[s] = {"tau": float(taus[best]), "n": int(m.sum()), "val_acc": float(acc[best]),
                   "val_model_acc": float(model_ok[m].mean())}
    return pd.DataFrame.from_dict(rows, orient="index").astype({"n": int})


def slice_backoff(p_model, p_knn, slices, taus_by_slice: dict) -> np.ndarray:
    """:func:`backoff` with each example's threshold looked up by its slice.

    Parameters
    ----------
    p_model, p_knn : array-like of shape (n, C)
    slices : array-like of shape (n,)
        The slice of each example.
    taus_by_slice : dict
        ``{slice: tau}`` with tau in [0, 1] (e.g. ``tune_slice_taus(...)["tau"].to_dict()``).

    Returns
    -------
    predictions : ndarray of shape (n,), int64

    Example
    -------
    >>> pm = np.array([[0.6, 0.4, 0], [0.6, 0.4, 0]])
    >>> pk = np.array([[0, 1.0, 0], [0, 1.0, 0]])
    >>> slice_backoff(pm, pk, ["a", "b"], {"a": 0.7, "b": 0.0}).tolist()
    [1, 0]
    """
    pm = check_proba(p_model, "p_model")
    pk = check_proba(p_knn, "p_knn")
    check_same_shape(pm, pk, "p_model", "p_knn")
    slices = np.asarray(slices)
    check_same_length(len(slices), len(pm), "slices", "p_model")
    missing = set(pd.unique(slices)) - set(taus_by_slice)
    if missing:
        raise ValueError(f"no tau for slices {sorted(map(str, missing))}; "
                         f"taus_by_slice has {sorted(map(str, taus_by_slice))}")
    taus = {s: check_unit_interval(t, f"taus_by_slice[{s!r}]") for s, t in taus_by_slice.items()}
    tau = np.array([taus[s] for s in slices], dtype=float)
    return np.where(pm.max(1) > tau, pm.argmax(1), pk.argmax(1)).astype(np.int64)
