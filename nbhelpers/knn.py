"""kNN over hidden representations: normalisation, FAISS search, ``p_knn``, backoff and tuning.

Notation, fixed once for the module: N training representations, n queries, d features,
k neighbors, C classes. :func:`knn_proba` and the tuning functions take labels ``0 .. C-1``
(NLI: 0 entailment, 1 neutral, 2 contradiction); :class:`KNN` takes any labels.

The method (Rajani et al., 2020):

1. Dataset-wise normalisation with the *training* statistics, ``h~ = (h - mu) / (sigma + eps)``.
2. The k smallest squared L2 distances ``d_i`` (FAISS; exact ``"Flat"`` search by default).
3. ``w_i = softmax(-d_i / T)`` over the k neighbors and
   ``p_knn(y) = sum of w_i over the neighbors labelled y`` (:func:`knn_proba`).
4. Backoff: ``argmax p_model`` if ``max p_model > tau``, else ``argmax p_knn`` (:func:`backoff`).
   k, T and tau are chosen on the validation split (:func:`tune`).
"""
from __future__ import annotations

import warnings
from numbers import Integral, Real

import faiss
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing._data import _is_constant_feature
from sklearn.utils import check_scalar
from sklearn.utils import TransformerTags
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import timing
from .validation import (check_label_map, check_labels, check_matrix, check_positive, check_proba,
                         check_same_length, check_same_shape, check_unit_interval)

__all__ = [
    "DEFAULT_KS", "DEFAULT_TEMPERATURES", "DEFAULT_TAUS", "DEFAULT_LAMBDAS", "NotFittedError", "KNN",
    "knn_proba", "neighbor_weights", "backoff", "interpolate", "tune", "tune_interpolation",
    "tune_slice_taus", "slice_backoff",
]

DEFAULT_KS = (1, 2, 4, 8, 16, 32, 64)
"""Numbers of neighbors tried by :func:`tune`."""

DEFAULT_TEMPERATURES = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
"""Temperatures tried by :func:`tune`: half-decades from 0.1 to 1000.

Squared distances between normalised vectors grow with the dimension (two independent
standardised 384-d vectors are about ``2 * 384 = 768`` apart), so gaps between neighbors are
of order 1-100. T = 0.1 makes the weights essentially 1-NN; T = 1000 makes them nearly uniform.
"""

DEFAULT_TAUS = tuple(np.round(np.linspace(0.0, 1.0, 101), 2))
"""Backoff thresholds tried by :func:`tune`: 0.00, 0.01, ..., 1.00."""

DEFAULT_LAMBDAS = tuple(np.round(np.linspace(0.0, 1.0, 21), 2))
"""Interpolation weights tried by :func:`tune_interpolation`: 0.00, 0.05, ..., 1.00."""

_FLOAT32_NORM_MAX = np.finfo(np.float32).max / 4  # FAISS sums squares in float32


# ----------------------------------------------------------------------------------------------
# p_knn
# ----------------------------------------------------------------------------------------------
def neighbor_weights(distances, *, temperature):
    """Each neighbor's weight in the kNN vote: ``softmax(-d / T)`` over a query's k neighbors.

    Computed stably (the row minimum is subtracted first). :func:`knn_proba` sums these
    weights per label; the neighbor explorer shows them.

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
    """Class probabilities from the k nearest neighbors, weighted by ``softmax(-d / T)``.

    Parameters
    ----------
    distances : array-like of shape (n, k)
        Squared L2 distances of each query to its k neighbors (any order), e.g. the first
        output of :meth:`KNN.kneighbors`.
    neighbor_labels : array-like of int, shape (n, k)
        Label of each of those neighbors, integers in ``0 .. n_classes-1``.
    temperature : float
        Softmax temperature T > 0. Small T puts all weight on the nearest neighbor; large T
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
    The row minimum is subtracted from the distances first, so the nearest neighbor has
    weight ``exp(0) = 1`` before normalising and no row underflows, however large d or small T.

    Examples
    --------
    Neighbors at squared distances 0, 1, 2 labelled 0, 1, 0, with T = 1:
    ``p0 = (1 + e^-2) / (1 + e^-1 + e^-2) = 0.755``.

    >>> np.round(knn_proba([[0.0, 1.0, 2.0]], [[0, 1, 0]], temperature=1.0), 3)
    array([[0.755, 0.245, 0.   ]])
    """
    check_scalar(n_classes, "n_classes", Integral, min_val=1)
    w = neighbor_weights(distances, temperature=temperature)
    labels = check_labels(neighbor_labels, n_classes, name="neighbor_labels", ndim=2)
    check_same_shape(w, labels, "distances", "neighbor_labels")
    p = np.zeros((w.shape[0], n_classes), dtype=np.float64)
    np.add.at(p, (np.arange(w.shape[0])[:, None], labels), w)
    return p


# ----------------------------------------------------------------------------------------------
# The estimator
# ----------------------------------------------------------------------------------------------
class KNN(ClassifierMixin, TransformerMixin, BaseEstimator):
    """kNN classifier over normalised representations, backed by a FAISS index.

    Parameters
    ----------
    k : int, default=16
        Number of neighbors, ``1 <= k <= N`` (checked in :meth:`fit`).
    temperature : float, default=1.0
        Softmax temperature T > 0 of the neighbor weights (:func:`knn_proba`). Distances
        between normalised 384-d vectors are of order hundreds: useful values span 0.1 to 1000.
    normalize : bool, default=True
        Standardise every feature with the training mean and population standard deviation,
        ``(h - mean_) / scale_``; if False, use the representations as given.
    classes : array-like or None, default=None
        The labels that get a column in :meth:`predict_proba`; default the labels seen in y.
        Give all the task's labels (``classes=[0, 1, 2]`` for NLI) when a training set may
        lack one, so that ``p_knn`` lines up with the model's probabilities.
    eps : float, default=1e-6
        Added to the standard deviation: ``scale_ = sigma + eps``. A feature that is constant
        on the training set gets ``scale_ = 1`` instead, as in scikit-learn's ``StandardScaler``.
    index : str, default="Flat"
        A ``faiss.index_factory`` string. ``"Flat"`` is exact search; ``"IVF1024,Flat"`` or
        ``"HNSW32"`` are approximate (tune them after fitting, e.g.
        ``faiss.ParameterSpace().set_index_parameters(knn.index_, "nprobe=16")``).

    Attributes
    ----------
    classes_ : ndarray of shape (C,)
        The sorted labels; the column order of :meth:`predict_proba`.
    labels_ : ndarray of shape (N,)
        Training labels in fit order (``indices`` from :meth:`kneighbors` index into it).
    mean_, scale_ : ndarray of shape (d,), float64
        ``h~ = (h - mean_) / scale_``; zeros and ones if ``normalize=False``.
    index_ : faiss.Index
        The normalised training representations, as float32.
    n_samples_fit_, n_features_in_ : int
        N and d.

    Notes
    -----
    Statistics and centring are computed in float64; only the centred, scaled values are cast
    to float32 for FAISS, so a large common offset (``X + 1e8``) does not cost precision.
    :meth:`predict` breaks ties toward the first class in ``classes_``.

    Examples
    --------
    Four points on the unit square; after normalisation they sit at (+-1, +-1).

    >>> knn = KNN(k=2).fit([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [0, 0, 1, 1])
    >>> np.round(knn.predict_proba([[0.0, 0.4]]), 2)
    array([[0.69, 0.31]])
    >>> knn.predict([[0.0, 0.4], [0.0, 0.9]])
    array([0, 1])

    The query (0, 0.4) normalises to (-1, -0.2): squared distance 0.64 to (0, 0) (label 0)
    and 1.44 to (0, 1) (label 1), so ``p0 = 1 / (1 + e^-0.8) = 0.69``.
    """

    _parameter_constraints = {
        "k": [Interval(Integral, 1, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "normalize": ["boolean"],
        "classes": ["array-like", None],
        "eps": [Interval(Real, 0, None, closed="left")],
        "index": [str],
    }

    def __init__(self, k=16, temperature=1.0, normalize=True, *, classes=None, eps=1e-6, index="Flat"):
        self.k = k
        self.temperature = temperature
        self.normalize = normalize
        self.classes = classes
        self.eps = eps
        self.index = index

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags(preserves_dtype=["float32"])  # transform: FAISS's float32
        return tags

    @timing.timed('kNN')
    def fit(self, X, y):
        """Learn the classes, the normalisation statistics and the FAISS index.

        Parameters
        ----------
        X : array-like of shape (N, d)
            Training representations; finite.
        y : array-like of shape (N,)
            Training labels (any hashable, sortable values; all in ``classes`` if given).

        Returns
        -------
        self : KNN

        Examples
        --------
        >>> knn = KNN(k=1).fit([[0.0, 0.0], [2.0, 4.0]], [0, 2])
        >>> knn.mean_, knn.scale_.round(3), knn.classes_
        (array([1., 2.]), array([1., 2.]), array([0, 2]))
        """
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        classes = np.unique(y if self.classes is None else np.asarray(self.classes))
        unknown = np.setdiff1d(y, classes)
        if unknown.size:
            raise ValueError(f"y has labels {unknown.tolist()} that are not in classes {classes.tolist()}")
        n, d = X.shape
        if self.k > n:
            raise ValueError(f"Expected k <= n_samples, but n_samples = {n}, k = {self.k}")
        if self.normalize:  # float64 statistics; constant features get scale 1, as in StandardScaler
            self.mean_, var = X.mean(axis=0), X.var(axis=0)
            self.scale_ = np.where(_is_constant_feature(var, self.mean_, n), 1.0, np.sqrt(var) + self.eps)
        else:
            self.mean_, self.scale_ = np.zeros(d), np.ones(d)
        self.classes_, self.labels_, self._y = classes, y, np.searchsorted(classes, y)
        self.n_samples_fit_ = n
        Z = self._normalize(X)
        try:
            index = faiss.index_factory(d, self.index)
        except RuntimeError as err:
            raise ValueError(f"index={self.index!r} is not a faiss.index_factory string: {err}") from None
        if not index.is_trained:
            index.train(Z)
        threads = faiss.omp_get_max_threads()
        if isinstance(index, faiss.IndexHNSW):
            faiss.omp_set_num_threads(1)  # a parallel HNSW build inserts in a racy order
        try:
            index.add(Z)
        finally:
            faiss.omp_set_num_threads(threads)
        if (ivf := faiss.try_extract_index_ivf(index)) is not None:
            ivf.make_direct_map()  # reconstruct_n, for leave-one-out queries
        self.index_ = index
        return self

    def _normalize(self, X):
        """float64 ``(X - mean_) / scale_`` as C-contiguous float32, checked to suit FAISS."""
        with np.errstate(over="ignore", invalid="ignore"):
            Z = np.ascontiguousarray((X - self.mean_) / self.scale_, dtype=np.float32)
            bad = ~(np.einsum("ij,ij->i", Z, Z, dtype=np.float64) < _FLOAT32_NORM_MAX)
        if bad.any():
            raise ValueError(
                f"{int(bad.sum())} of {len(Z)} representations (rows {np.flatnonzero(bad)[:5].tolist()}) are "
                "out of float32 range after normalisation; expected squared norms below "
                f"{_FLOAT32_NORM_MAX:.3g}. Check the scale of the representations or of mean_, scale_")
        return Z

    def transform(self, X):
        """Normalise representations with the *training* statistics.

        Parameters
        ----------
        X : array-like of shape (n, d)

        Returns
        -------
        X_normalized : ndarray of shape (n, d), float32
            ``(X - mean_) / scale_``, computed in float64.

        Examples
        --------
        Training mean (1, 2), std (1, 2); the query (3, 2) is 2 stds right of the mean:

        >>> KNN(k=1).fit([[0.0, 0.0], [2.0, 4.0]], [0, 1]).transform([[3.0, 2.0]]).round(3)
        array([[2., 0.]], dtype=float32)
        """
        check_is_fitted(self)
        return self._normalize(validate_data(self, X, reset=False, dtype=np.float64))

    @timing.timed('kNN')
    def kneighbors(self, X=None, *, k=None, exclude_self=False):
        """The k nearest training representations of each query, nearest first.

        Parameters
        ----------
        X : array-like of shape (n, d) or None, default=None
            Queries. None queries the training set, leaving each point out of its own neighbors.
        k : int or None, default=None
            Number of neighbors; default ``self.k``. At most N, or N - 1 when leaving points out.
        exclude_self : bool, default=False
            If True, every row of X is a training representation (any rows, any order) and
            leaves its own training point out: the point whose stored vector is *identical*
            to the row's (of several identical copies, the one at the row's own index if it
            is one, else the nearest; the others stay, at distance 0). A row identical to no
            training point raises. With X the training set in fit order, as ``X=None``.

        Returns
        -------
        squared_distances : ndarray of shape (n, k), float32
            FAISS's squared L2 distances in the normalised space, untouched, ascending.
        indices : ndarray of shape (n, k), int64
            Row indices into the training set (and :attr:`labels_`).

        Notes
        -----
        Leaving points out searches k + 1 neighbors and drops the own point; where exact
        duplicates push it out of the k + 1, the last one is dropped instead.

        Examples
        --------
        >>> knn = KNN(k=1, normalize=False).fit([[0.0], [1.0], [3.0]], [0, 1, 1])
        >>> knn.kneighbors([[2.5]], k=2)
        (array([[0.25, 2.25]], dtype=float32), array([[2, 1]]))
        >>> knn.kneighbors()[1].ravel()  # each training point's nearest *other* point
        array([1, 0, 1])
        """
        check_is_fitted(self)
        k = check_scalar(self.k if k is None else k, "k", Integral, min_val=1)
        check_scalar(exclude_self, "exclude_self", (bool, np.bool_))
        n_fit, leave_out = self.n_samples_fit_, X is None or bool(exclude_self)
        if k > n_fit - leave_out:
            raise ValueError(f"Expected k <= n_samples_fit{' - 1 (each point left out)' * leave_out}, but "
                             f"n_samples_fit = {n_fit}, k = {k}")
        if X is None:
            Z = self.index_.reconstruct_n(0, n_fit)
        else:
            Z = self._normalize(validate_data(self, X, reset=False, dtype=np.float64))
        D, I = self.index_.search(Z, k + leave_out)
        if (I < 0).any():  # FAISS's mark for a missing result: an approximate index saw too few
            raise ValueError(f"FAISS returned fewer than {k + leave_out} neighbors for "
                             f"{int((I < 0).any(axis=1).sum())} of {len(I)} queries; expected a "
                             "search that reaches more points (raise nprobe or efSearch)")
        if leave_out:
            drop = I == (np.arange(n_fit) if X is None else self._own_points(Z, I))[:, None]
            drop[~drop.any(axis=1), -1] = True
            D, I = D[~drop].reshape(len(Z), k), I[~drop].reshape(len(Z), k)
        return D, I.astype(np.int64)

    def _own_points(self, Z, I):
        """For :meth:`kneighbors` ``exclude_self``: each query's own training point."""
        stored = self.index_.reconstruct_n(0, self.n_samples_fit_)
        m = min(len(Z), len(stored))
        own = np.full(len(Z), -1)
        own[:m] = np.where((Z[:m] == stored[:m]).all(axis=1), np.arange(m), -1)
        for r in np.flatnonzero(own < 0):
            same = I[r][(stored[I[r]] == Z[r]).all(axis=1)]
            if not same.size:
                raise ValueError(f"exclude_self=True but query row {r} is identical to no training "
                                 "representation; expected rows of the training set X was fitted on")
            own[r] = same[0]
        return own

    @timing.timed('kNN')
    def predict_proba(self, X=None):
        """``p_knn`` of each query, from ``self.k`` neighbors and ``self.temperature``.

        Parameters
        ----------
        X : array-like of shape (n, d) or None, default=None
            Queries; None gives leave-one-out probabilities of the training set.

        Returns
        -------
        p_knn : ndarray of shape (n, C), float64
            Columns in :attr:`classes_` order; rows sum to 1.

        Examples
        --------
        >>> knn = KNN(k=2, normalize=False, classes=[0, 1, 2]).fit([[0.0], [1.0], [3.0]], [0, 1, 1])
        >>> np.round(knn.predict_proba([[0.0]]), 3)  # d = 0 (label 0) and 1 (label 1)
        array([[0.731, 0.269, 0.   ]])
        """
        check_is_fitted(self)
        D, I = self.kneighbors(X)
        return knn_proba(D, self._y[I], temperature=self.temperature, n_classes=len(self.classes_))

    def predict(self, X=None):
        """The most probable class under ``p_knn`` (ties: the first in ``classes_``).

        Parameters
        ----------
        X : array-like of shape (n, d) or None, default=None
            Queries; None gives leave-one-out predictions for the training set.

        Returns
        -------
        predictions : ndarray of shape (n,)
            Labels from :attr:`classes_`.

        Examples
        --------
        >>> knn = KNN(k=1, normalize=False).fit([[0.0], [1.0], [3.0]], ["a", "b", "c"])
        >>> knn.predict([[0.2], [2.6], [-5.0]]).tolist()
        ['a', 'c', 'a']
        """
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


# ----------------------------------------------------------------------------------------------
# Combining the model and kNN
# ----------------------------------------------------------------------------------------------
def _two_proba(p_model, p_knn, names=("p_model", "p_knn")):
    pm, pk = check_proba(p_model, names[0]), check_proba(p_knn, names[1])
    check_same_shape(pm, pk, *names)
    return pm, pk


def _val_labels(labels, pm, name="val_labels", p_name="p_model_val"):
    y = check_labels(labels, pm.shape[1], name)
    check_same_length(len(pm), len(y), p_name, name)
    return y


def _sorted_unique(values, name, check):
    try:
        vals = list(values)
    except TypeError:
        raise ValueError(f"{name} must be a sequence; got {values!r}") from None
    if not vals:
        raise ValueError(f"{name} is empty; expected at least one value")
    return sorted({check(v) for v in vals})


def _taus(taus):
    return np.array(_sorted_unique(taus, "taus", lambda v: check_unit_interval(v, "tau")))


def backoff(p_model, p_knn, tau):
    """Predict with the model where it is confident, else with kNN.

    Parameters
    ----------
    p_model : array-like of shape (n, C)
        The model's class probabilities (softmax outputs, not logits).
    p_knn : array-like of shape (n, C)
        kNN class probabilities (:meth:`KNN.predict_proba`, same columns).
    tau : float
        Confidence threshold in [0, 1].

    Returns
    -------
    predictions : ndarray of shape (n,), int64
        ``argmax p_model`` where ``max p_model > tau``, else ``argmax p_knn``.

    Notes
    -----
    The comparison is strict: ``tau=1`` always uses kNN, and ``tau=0`` always uses the model.
    Ties inside either argmax go to the smaller label.

    Examples
    --------
    >>> p_model = [[0.9, 0.1, 0.0], [0.5, 0.4, 0.1]]
    >>> p_knn = [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    >>> backoff(p_model, p_knn, tau=0.5)  # row 2 is not > 0.5 confident: kNN says 1
    array([0, 1])
    """
    tau = check_unit_interval(tau, "tau")
    pm, pk = _two_proba(p_model, p_knn)
    return np.where(pm.max(axis=1) > tau, pm.argmax(axis=1), pk.argmax(axis=1)).astype(np.int64)


def interpolate(p_model, p_knn, lam):
    """Mix the two distributions: ``lam * p_knn + (1 - lam) * p_model``.

    Parameters
    ----------
    p_model, p_knn : array-like of shape (n, C)
        The model's and kNN's class probabilities.
    lam : float
        Weight of kNN in [0, 1]: 0 is the model alone, 1 is kNN alone.

    Returns
    -------
    p : ndarray of shape (n, C), float64

    Examples
    --------
    >>> interpolate([[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]], lam=0.25)
    array([[0.75, 0.25, 0.  ]])
    """
    lam = check_unit_interval(lam, "lam")
    pm, pk = _two_proba(p_model, p_knn)
    return lam * pk + (1.0 - lam) * pm


# ----------------------------------------------------------------------------------------------
# Tuning on the validation split
# ----------------------------------------------------------------------------------------------
@timing.timed('kNN')
def tune(train_reps, train_labels, val_reps, val_labels, p_model_val, *, ks=DEFAULT_KS,
         temperatures=DEFAULT_TEMPERATURES, taus=DEFAULT_TAUS, normalize=True, n_classes=3,
         label_map=None):
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
    p_model_val : array-like of shape (n, C)
        The model's probabilities on the validation split.
    ks : sequence of int, default=DEFAULT_KS
        Numbers of neighbors. Values above N are clipped to N (with a warning).
    temperatures : sequence of float, default=DEFAULT_TEMPERATURES
        Softmax temperatures, from essentially 1-NN (0.1) to a near-uniform vote (1000).
    taus : sequence of float, default=DEFAULT_TAUS
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
        The best row of ``grid`` as Python scalars: ``k``, ``temperature``, ``tau``,
        ``model_acc``, ``knn_acc``, ``backoff_acc`` and ``knn_fraction`` (share sent to kNN).
    grid : pandas.DataFrame
        One row per (k, T, tau), each grid sorted and de-duplicated, with those columns.

    Notes
    -----
    One FAISS fit and one search with the largest k; each k takes the first k columns.
    Ties in ``backoff_acc`` go to the first best row: the smallest k, then T, then tau.

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
    check_scalar(n_classes, "n_classes", Integral, min_val=1)
    ks = _sorted_unique(ks, "ks", lambda v: check_scalar(v, "k", Integral, min_val=1))
    temperatures = _sorted_unique(temperatures, "temperatures", lambda v: check_positive(v, "temperature"))
    taus = _taus(taus)
    n_train = len(np.asarray(train_labels).reshape(-1))
    if n_train >= 1 and ks[-1] > n_train:
        warnings.warn(f"ks {[k for k in ks if k > n_train]} exceed the {n_train} training "
                      f"representations; clipped to k={n_train}", UserWarning, stacklevel=3)
        ks = sorted({min(k, n_train) for k in ks})

    knn = KNN(k=ks[-1], temperature=temperatures[0], normalize=normalize, classes=range(n_classes))
    D, I = knn.fit(train_reps, train_labels).kneighbors(val_reps)
    yv = check_labels(val_labels, n_classes, "val_labels")
    pm = check_proba(p_model_val, "p_model_val", n_classes=n_classes)
    check_same_length(len(D), len(yv), "val_reps", "val_labels")
    check_same_length(len(pm), len(yv), "p_model_val", "val_labels")
    to_label = check_label_map(label_map, n_classes)
    neighbor_labels = knn._y[I]
    model_correct = to_label[pm.argmax(axis=1)] == yv
    confident = pm.max(axis=1)[None, :] > taus[:, None]  # (n_taus, n)
    blocks = []
    for k in ks:
        for T in temperatures:
            p_knn = knn_proba(D[:, :k], neighbor_labels[:, :k], temperature=T, n_classes=n_classes)
            knn_correct = to_label[p_knn.argmax(axis=1)] == yv
            blocks.append(pd.DataFrame({
                "k": k, "temperature": T, "tau": taus, "model_acc": float(model_correct.mean()),
                "knn_acc": float(knn_correct.mean()),
                "backoff_acc": np.where(confident, model_correct, knn_correct).mean(axis=1),
                "knn_fraction": 1.0 - confident.mean(axis=1)}))
    grid = pd.concat(blocks, ignore_index=True)
    row = grid.loc[int(np.argmax(grid["backoff_acc"].to_numpy()))]
    best = {c: (int if c == "k" else float)(row[c]) for c in grid.columns}
    return best, grid


@timing.timed('kNN')
def tune_interpolation(p_model_val, p_knn_val, val_labels, *, lambdas=DEFAULT_LAMBDAS, label_map=None):
    """Choose the weight of :func:`interpolate` by validation accuracy.

    Parameters
    ----------
    p_model_val, p_knn_val : array-like of shape (n, C)
        The model's and kNN's probabilities on the validation split.
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
    pm, pk = _two_proba(p_model_val, p_knn_val, ("p_model_val", "p_knn_val"))
    y = _val_labels(val_labels, pm)
    lams = np.array(_sorted_unique(lambdas, "lambdas", lambda v: check_unit_interval(v, "lam")))
    to_label = check_label_map(label_map, pm.shape[1])
    acc = np.array([(to_label[interpolate(pm, pk, lam).argmax(axis=1)] == y).mean() for lam in lams])
    return float(lams[int(np.argmax(acc))]), pd.DataFrame({"lam": lams, "accuracy": acc})


# ----------------------------------------------------------------------------------------------
# Backoff with one threshold per slice (e.g. per HANS heuristic)
# ----------------------------------------------------------------------------------------------
def tune_slice_taus(p_model_val, p_knn_val, val_labels, val_slices, *, taus=DEFAULT_TAUS,
                    label_map=None) -> pd.DataFrame:
    """One backoff threshold per slice (e.g. per HANS heuristic), tuned on validation.

    What :func:`backoff` does with one tau, :func:`slice_backoff` does with one per slice.

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
    pm, pk = _two_proba(p_model_val, p_knn_val, ("p_model_val", "p_knn_val"))
    y = _val_labels(val_labels, pm)
    slices = np.asarray(val_slices)
    check_same_length(len(slices), len(y), "val_slices", "val_labels")
    taus = _taus(taus)
    to_label = check_label_map(label_map, pm.shape[1])
    model_ok, knn_ok, conf = to_label[pm.argmax(1)] == y, to_label[pk.argmax(1)] == y, pm.max(1)
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
    pm, pk = _two_proba(p_model, p_knn)
    slices = np.asarray(slices)
    check_same_length(len(slices), len(pm), "slices", "p_model")
    missing = set(pd.unique(slices)) - set(taus_by_slice)
    if missing:
        raise ValueError(f"no tau for slices {sorted(map(str, missing))}; "
                         f"taus_by_slice has {sorted(map(str, taus_by_slice))}")
    taus = {s: check_unit_interval(t, f"taus_by_slice[{s!r}]") for s, t in taus_by_slice.items()}
    tau = np.array([taus[s] for s in slices], dtype=float)
    return np.where(pm.max(1) > tau, pm.argmax(1), pk.argmax(1)).astype(np.int64)
