"""kNN over hidden representations (Rajani et al., 2020): normalise with the training mean and std, take
the k nearest by squared L2 distance (FAISS), ``p_knn(y) = sum of softmax(-d / T)`` over the neighbors
labelled y, back off to kNN where ``max p_model <= tau``; tune k, T, tau on validation."""
from __future__ import annotations

import itertools
import warnings
from numbers import Integral, Real

import faiss
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.preprocessing._data import _is_constant_feature
from sklearn.utils import TransformerTags, check_scalar
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import timing
from .checks import (check_dict, check_grid, check_label_map, check_labels, check_matrix, check_positive,
                     check_proba, check_same_length, check_same_shape, check_unit_interval)

# The grids of :func:`tune` and :func:`tune_interpolation`; temperatures go from 1-NN to a vote.
DEFAULT_KS = (1, 2, 4, 8, 16, 32, 64)
DEFAULT_TEMPERATURES = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
DEFAULT_TAUS = tuple(np.round(np.linspace(0.0, 1.0, 101), 2))  # 0.00, 0.01, ..., 1.00
DEFAULT_LAMBDAS = tuple(np.round(np.linspace(0.0, 1.0, 21), 2))  # 0.00, 0.05, ..., 1.00

_FLOAT32_NORM_MAX = np.finfo(np.float32).max / 4  # FAISS sums squares in float32
_EPS = 1e-6  # scale_ = sigma + _EPS


def neighbor_weights(distances, *, temperature):
    """Each neighbor's weight, ``softmax(-d / T)`` over a query's k (stably: minus the row minimum)."""
    temperature = check_positive(temperature, "temperature")
    d = check_matrix(distances, "distances")
    w = np.exp(-(d - d.min(axis=1, keepdims=True)) / temperature)
    return w / w.sum(axis=1, keepdims=True)


def knn_proba(distances, neighbor_labels, *, temperature, n_classes=3):
    """Class probabilities from the k nearest neighbors, weighted by ``softmax(-d / T)``.

    Parameters
    ----------
    distances : array-like of shape (n, k)
        Squared L2 distances of each query to its k neighbors, e.g. from :meth:`KNN.kneighbors`.
    neighbor_labels : array-like of int, shape (n, k)
        Their labels, integers in ``0 .. n_classes-1``.
    temperature : float
        T > 0: small T puts all weight on the nearest neighbor, large T makes a majority vote.
    n_classes : int, default=3

    Returns
    -------
    p_knn : ndarray of shape (n, C), float64
        ``p_knn[i, y] = sum_j w_ij [label_ij == y]``, ``w`` from :func:`neighbor_weights`.

    Examples
    --------
    Neighbors at 0, 1, 2 labelled 0, 1, 0, T = 1: ``p0 = (1 + e^-2) / (1 + e^-1 + e^-2)``.

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


def _validated(est, X, *y):
    """``validate_data`` (float64), its messages naming X (and y) where they do not already."""
    try:
        return validate_data(est, X, *y, dtype=np.float64, **({} if y else {"reset": False}))
    except (ValueError, TypeError) as err:
        if "X" in str(err):
            raise
        raise type(err)(f"{'X, y' if y else 'X'}: {err}") from err


class KNN(ClassifierMixin, TransformerMixin, BaseEstimator):
    """kNN classifier over normalised representations, backed by a FAISS index.

    Parameters
    ----------
    k : int, default=16
        Number of neighbors, ``1 <= k <= N`` (checked in :meth:`fit`).
    temperature : float, default=1.0
        Softmax temperature T > 0 of the neighbor weights (:func:`knn_proba`), 0.1 to 1000.
    normalize : bool, default=True
        Standardise each feature with the training mean and population standard deviation.
    classes : array-like or None, default=None
        The labels that get a column in :meth:`predict_proba` (default: those in y); give all the
        task's where a training set may lack one, as for backoff.
    index : str, default="Flat"
        A ``faiss.index_factory`` string: ``"Flat"`` is exact; ``"IVF1024,Flat"`` or ``"HNSW32"``
        are approximate (set ``nprobe`` or ``efSearch`` on the fitted ``index_``).

    Attributes
    ----------
    classes_ : ndarray of shape (C,)
        Sorted labels, the columns of :meth:`predict_proba`.
    labels_ : ndarray of shape (N,)
        Training labels in fit order, what :meth:`kneighbors`'s indices point at.
    mean_, scale_ : ndarray of shape (d,), float64
        ``h~ = (h - mean_) / scale_`` in float64, only then cast to float32 for FAISS; ``scale_`` is
        sigma + 1e-6, or 1 for a feature constant on the training set.
    index_ : faiss.Index
    n_samples_fit_, n_features_in_ : int

    Examples
    --------
    Four points on the unit square normalise to (+-1, +-1); the query (0, 0.4) to (-1, -0.2),
    at squared distance 0.64 from (0, 0) and 1.44 from (0, 1): ``p0 = 1 / (1 + e^-0.8)``.

    >>> knn = KNN(k=2).fit([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [0, 0, 1, 1])
    >>> np.round(knn.predict_proba([[0.0, 0.4]]), 2), knn.predict([[0.0, 0.4], [0.0, 0.9]])
    (array([[0.69, 0.31]]), array([0, 1]))
    """

    _parameter_constraints = {"k": [Interval(Integral, 1, None, closed="left")],
                              "temperature": [Interval(Real, 0, None, closed="neither")],
                              "normalize": ["boolean"], "classes": ["array-like", None], "index": [str]}

    def __init__(self, k=16, temperature=1.0, normalize=True, *, classes=None, index="Flat"):
        self.k, self.temperature, self.normalize = k, temperature, normalize
        self.classes, self.index = classes, index

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags(preserves_dtype=["float32"])  # FAISS's float32
        return tags

    @timing.timed('kNN')
    def fit(self, X, y):
        """Learn ``classes_``, ``mean_``, ``scale_`` and ``index_`` from X (N, d) and y (N,); returns self."""
        self._validate_params()
        X, y = _validated(self, X, y)
        check_classification_targets(y)
        classes = np.unique(y if self.classes is None else np.asarray(self.classes))
        if (unknown := np.setdiff1d(y, classes)).size:
            raise ValueError(f"y has labels {unknown.tolist()} that are not in classes {classes.tolist()}")
        n, d = X.shape
        if self.k > n:
            raise ValueError(f"Expected k <= n_samples, but n_samples = {n}, k = {self.k}")
        if self.normalize:  # float64 statistics; constant features get scale 1, as in StandardScaler
            self.mean_, var = X.mean(axis=0), X.var(axis=0)
            self.scale_ = np.where(_is_constant_feature(var, self.mean_, n), 1.0, np.sqrt(var) + _EPS)
        else:
            self.mean_, self.scale_ = np.zeros(d), np.ones(d)
        self.classes_, self.labels_, self._y, self.n_samples_fit_ = classes, y, np.searchsorted(classes, y), n
        Z = self._normalize(X)
        try:
            index = faiss.index_factory(d, self.index)
        except RuntimeError as err:
            raise ValueError(f"index={self.index!r} is not a faiss.index_factory string: {err}") from None
        index.train(Z)  # a no-op for "Flat"
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1 if isinstance(index, faiss.IndexHNSW) else threads)  # parallel HNSW: racy
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
            rows = np.flatnonzero(bad)[:5].tolist()
            raise ValueError(f"{int(bad.sum())} of {len(Z)} representations (rows {rows}) are out of float32 "
                             f"range after normalisation; expected squared norms < {_FLOAT32_NORM_MAX:.3g}")
        return Z

    def transform(self, X):
        """``(X - mean_) / scale_`` with the training statistics, float32 of shape (n, d).

        >>> KNN(k=1).fit([[0.0, 0.0], [2.0, 4.0]], [0, 1]).transform([[3.0, 2.0]]).round(3)  # mean 1, 2
        array([[2., 0.]], dtype=float32)
        """
        check_is_fitted(self)
        return self._normalize(_validated(self, X))

    @timing.timed('kNN')
    def kneighbors(self, X=None, *, k=None, exclude_self=False):
        """The k nearest training representations of each query, nearest first: squared distances and indices.

        ``X`` (n, d); None, or the training set in fit order with ``exclude_self``, leaves each point out of
        its own neighbors. ``k`` defaults to ``self.k``. Returns float32 and int64 arrays, shape (n, k).

        >>> knn = KNN(k=1, normalize=False).fit([[0.0], [1.0], [3.0]], [0, 1, 1])
        >>> knn.kneighbors([[2.5]], k=2)
        (array([[0.25, 2.25]], dtype=float32), array([[2, 1]]))
        >>> knn.kneighbors()[1].ravel(), knn.kneighbors([[0.0], [1.0], [3.0]], exclude_self=True)[1].ravel()
        (array([1, 0, 1]), array([1, 0, 1]))
        """
        check_is_fitted(self)
        k = check_scalar(self.k if k is None else k, "k", Integral, min_val=1)
        check_scalar(exclude_self, "exclude_self", (bool, np.bool_))
        n_fit, leave_out = self.n_samples_fit_, int(X is None or exclude_self)
        if k > n_fit - leave_out:
            left_out = " - 1 (each point left out)" if leave_out else ""
            raise ValueError(f"Expected k <= n_samples_fit{left_out}, but n_samples_fit = {n_fit}, k = {k}")
        stored = self.index_.reconstruct_n(0, n_fit) if leave_out else None
        Z = stored if X is None else self._normalize(_validated(self, X))
        if exclude_self and not np.array_equal(Z, stored):
            raise ValueError(f"exclude_self=True but X (shape {Z.shape}) is not the training set; expected "
                             f"the {n_fit} rows KNN was fitted on, in fit order")
        D, I = self.index_.search(Z, k + leave_out)
        if (I < 0).any():  # FAISS's mark for a missing result: an approximate search saw too few
            raise ValueError(f"FAISS returned fewer than {k + leave_out} neighbors for "
                             f"{int((I < 0).any(axis=1).sum())} of {len(I)} queries; expected a "
                             "search that reaches more points (raise nprobe or efSearch)")
        if leave_out:  # drop the own point, or the last if copies pushed it out
            drop = I == np.arange(n_fit)[:, None]
            drop[~drop.any(axis=1), -1] = True
            D, I = D[~drop].reshape(n_fit, k), I[~drop].reshape(n_fit, k)
        return D, I.astype(np.int64)

    @timing.timed('kNN')
    def predict_proba(self, X=None):
        """``p_knn`` of shape (n, C), columns in :attr:`classes_` order; X as in :meth:`kneighbors`."""
        D, I = self.kneighbors(X)
        return knn_proba(D, self._y[I], temperature=self.temperature, n_classes=len(self.classes_))

    def predict(self, X=None):
        """The most probable class under ``p_knn``, shape (n,), ties to the first class."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _two_proba(p_model, p_knn, names=("p_model", "p_knn")):
    pm, pk = check_proba(p_model, names[0]), check_proba(p_knn, names[1])
    check_same_shape(pm, pk, *names)
    return pm, pk


def _scored(p_model_val, p_knn_val, val_labels, label_map):
    """Checked validation arrays, and whether the model's and kNN's predictions are right."""
    pm, pk = _two_proba(p_model_val, p_knn_val, ("p_model_val", "p_knn_val"))
    y = check_labels(val_labels, pm.shape[1], "val_labels")
    check_same_length(len(pm), len(y), "p_model_val", "val_labels")
    to_label = check_label_map(label_map, pm.shape[1])
    return pm, pk, y, to_label, to_label[pm.argmax(1)] == y, to_label[pk.argmax(1)] == y


def _slices(values, name):
    a = np.asarray(values)
    if a.ndim != 1 or pd.isna(a).any():
        raise ValueError(f"{name} must be a 1-D array of slice names without NaN; "
                         f"got {a.ravel()[:10].tolist()}")
    return a


def backoff(p_model, p_knn, tau):
    """Predict with the model where it is confident, else with kNN.

    Parameters
    ----------
    p_model : array-like of shape (n, C)
        The model's class probabilities (softmax outputs, not logits).
    p_knn : array-like of shape (n, C)
        kNN class probabilities (:meth:`KNN.predict_proba`, the same columns).
    tau : float
        Confidence threshold in [0, 1]; strict, so ``tau=1`` always backs off.

    Returns
    -------
    predictions : ndarray of shape (n,), int64
        ``argmax p_model`` where ``max p_model > tau``, else ``argmax p_knn`` (ties: smaller label).

    Examples
    --------
    >>> backoff([[0.9, 0.1, 0.0], [0.5, 0.4, 0.1]], [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], tau=0.5)
    array([0, 1])
    """
    tau = check_unit_interval(tau, "tau")
    pm, pk = _two_proba(p_model, p_knn)
    return np.where(pm.max(axis=1) > tau, pm.argmax(axis=1), pk.argmax(axis=1)).astype(np.int64)


def interpolate(p_model, p_knn, lam):
    """The mixture ``lam * p_knn + (1 - lam) * p_model`` of two (n, C) arrays, lam in [0, 1]."""
    lam = check_unit_interval(lam, "lam")
    pm, pk = _two_proba(p_model, p_knn)
    return lam * pk + (1.0 - lam) * pm


@timing.timed('kNN')
def tune(train_reps, train_labels, val_reps, val_labels, p_model_val, *, ks=DEFAULT_KS,
         temperatures=DEFAULT_TEMPERATURES, taus=DEFAULT_TAUS, n_classes=3, label_map=None):
    """Grid-search k, T and tau for :func:`backoff`, scored on the validation split.

    Parameters
    ----------
    train_reps, val_reps : array-like of shape (N, d) and (n, d)
        The kNN datastore and its queries: the validation split, never the test split.
    train_labels, val_labels : array-like of int, shape (N,) and (n,)
        Labels in ``0 .. n_classes-1`` (a training set may lack some).
    p_model_val : array-like of shape (n, C)
        The model's probabilities on the validation split.
    ks, temperatures, taus : sequences, default=DEFAULT_KS, DEFAULT_TEMPERATURES, DEFAULT_TAUS
        The grid; ks above N are clipped to N (with a warning), taus lie in [0, 1].
    n_classes : int, default=3
    label_map : array-like of int, shape (C,), optional
        Scores a prediction as ``label_map[prediction]``, e.g. ``[0, 1, 1]`` for HANS, where a
        3-class model's neutral and contradiction both count as non-entailment (1).

    Returns
    -------
    best : dict
        The best row of ``grid``; ties go to the smallest k, then T, then tau.
    grid : pandas.DataFrame
        One row per (k, T, tau): ``k``, ``temperature``, ``tau``, ``model_acc``, ``knn_acc``,
        ``backoff_acc``, ``knn_fraction`` (share sent to kNN).

    Examples
    --------
    kNN is right on both points, the model only where confident: tau 0.7 and 1.0 tie at 1.0.

    >>> best, grid = tune([[0.0], [1.0], [10.0], [11.0]], [0, 0, 1, 1], [[0.5], [10.5]], [0, 1],
    ...                   [[0.9, 0.1, 0.0], [0.6, 0.4, 0.0]], ks=[1, 2], temperatures=[1.0],
    ...                   taus=[0.0, 0.5, 0.7, 1.0])
    >>> best["k"], best["tau"], best["model_acc"], best["backoff_acc"], len(grid)
    (1, 0.7, 0.5, 1.0, 8)
    """
    check_scalar(n_classes, "n_classes", Integral, min_val=1)
    ks = check_grid(ks, "ks", lambda v, name: check_scalar(v, name, Integral, min_val=1)).tolist()
    temperatures = check_grid(temperatures, "temperatures", check_positive)
    taus = check_grid(taus, "taus", check_unit_interval)
    train_reps, val_reps = check_matrix(train_reps, "train_reps"), check_matrix(val_reps, "val_reps")
    train_labels = check_labels(train_labels, n_classes, "train_labels")
    check_same_length(len(train_reps), len(train_labels), "train_reps", "train_labels")
    if ks[-1] > (n_train := len(train_labels)):
        warnings.warn(f"ks {[k for k in ks if k > n_train]} exceed the {n_train} training "
                      f"representations; clipped to k={n_train}", UserWarning, stacklevel=3)
        ks = sorted({min(k, n_train) for k in ks})
    knn = KNN(k=ks[-1], classes=range(n_classes))
    D, I = knn.fit(train_reps, train_labels).kneighbors(val_reps)  # one search, with the largest k
    yv = check_labels(val_labels, n_classes, "val_labels")
    pm = check_proba(p_model_val, "p_model_val", n_classes=n_classes)
    check_same_length(len(D), len(yv), "val_reps", "val_labels")
    check_same_length(len(pm), len(yv), "p_model_val", "val_labels")
    to_label = check_label_map(label_map, n_classes)
    model_ok = to_label[pm.argmax(axis=1)] == yv
    confident = pm.max(axis=1)[None, :] > taus[:, None]  # (n_taus, n)
    blocks = []
    for k, T in itertools.product(ks, temperatures):
        p_knn = knn_proba(D[:, :k], knn._y[I[:, :k]], temperature=T, n_classes=n_classes)
        knn_ok = to_label[p_knn.argmax(axis=1)] == yv
        backoff_acc = np.where(confident, model_ok, knn_ok).mean(axis=1)
        blocks.append(pd.DataFrame({"k": k, "temperature": T, "tau": taus, "model_acc": model_ok.mean(),
                                    "knn_acc": knn_ok.mean(), "backoff_acc": backoff_acc,
                                    "knn_fraction": 1.0 - confident.mean(axis=1)}))
    grid = pd.concat(blocks, ignore_index=True)
    row = grid.loc[int(np.argmax(grid["backoff_acc"].to_numpy()))]
    return {c: (int if c == "k" else float)(row[c]) for c in grid.columns}, grid


@timing.timed('kNN')
def tune_interpolation(p_model_val, p_knn_val, val_labels, *, lambdas=DEFAULT_LAMBDAS, label_map=None):
    """The :func:`interpolate` weight with the best validation accuracy (ties: the smallest), and a table.

    Arguments as :func:`tune_slice_taus`; the table has columns ``lam`` and ``accuracy``.

    >>> lam, acc = tune_interpolation([[0.6, 0.4, 0.0], [0.6, 0.4, 0.0]],
    ...                               [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], [1, 0], lambdas=[0.0, 0.5, 1.0])
    >>> lam, acc["accuracy"].tolist()
    (0.5, [0.5, 1.0, 1.0])
    """
    pm, pk, y, to_label, _, _ = _scored(p_model_val, p_knn_val, val_labels, label_map)
    lams = check_grid(lambdas, "lambdas", check_unit_interval)
    acc = np.array([(to_label[interpolate(pm, pk, lam).argmax(axis=1)] == y).mean() for lam in lams])
    return float(lams[int(np.argmax(acc))]), pd.DataFrame({"lam": lams, "accuracy": acc})


def tune_slice_taus(p_model_val, p_knn_val, val_labels, val_slices, *, taus=DEFAULT_TAUS,
                    label_map=None) -> pd.DataFrame:
    """One backoff threshold per slice (e.g. HANS heuristic) of ``val_slices``, tuned on validation:
    a DataFrame by slice with ``tau`` (ties: the smallest), ``n``, ``val_acc``, ``val_model_acc``.

    >>> pm = np.array([[0.6, 0.4, 0], [0.6, 0.4, 0], [0.9, 0.1, 0], [0.9, 0.1, 0]])
    >>> tune_slice_taus(pm, np.eye(3)[[1, 1, 1, 1]], [1, 1, 0, 0], list("aabb"), taus=[0, 0.7, 1])["tau"]
    a    0.7
    b    0.0
    Name: tau, dtype: float64
    """
    pm, _, y, _, model_ok, knn_ok = _scored(p_model_val, p_knn_val, val_labels, label_map)
    slices = _slices(val_slices, "val_slices")
    check_same_length(len(slices), len(y), "val_slices", "val_labels")
    taus = check_grid(taus, "taus", check_unit_interval)
    ok = np.where(pm.max(1)[:, None] > taus, model_ok[:, None], knn_ok[:, None])  # (n, n_taus)
    by_slice = pd.DataFrame(ok, columns=taus).groupby(slices, sort=False)
    acc = by_slice.mean()  # backoff accuracy per slice and tau; idxmax: the first, smallest tau
    return pd.DataFrame({"tau": acc.idxmax(axis=1), "n": by_slice.size(), "val_acc": acc.max(axis=1),
                         "val_model_acc": pd.Series(model_ok).groupby(slices, sort=False).mean()})


def slice_backoff(p_model, p_knn, slices, taus_by_slice: dict) -> np.ndarray:
    """:func:`backoff` with each example's threshold ``taus_by_slice[slice]``; int64 predictions.

    >>> slice_backoff([[0.6, 0.4, 0], [0.6, 0.4, 0]], [[0, 1.0, 0]] * 2, ["a", "b"], {"a": 0.7, "b": 0})
    array([1, 0])
    """
    pm, pk = _two_proba(p_model, p_knn)
    slices = _slices(slices, "slices")
    check_dict(taus_by_slice, "taus_by_slice")
    check_same_length(len(slices), len(pm), "slices", "p_model")
    if missing := set(pd.unique(slices)) - set(taus_by_slice):
        raise ValueError(f"no tau for slices {sorted(map(str, missing))}; "
                         f"taus_by_slice has {sorted(map(str, taus_by_slice))}")
    taus = {s: check_unit_interval(t, f"taus_by_slice[{s!r}]") for s, t in taus_by_slice.items()}
    tau = np.array([taus[s] for s in slices], dtype=float)
    return np.where(pm.max(1) > tau, pm.argmax(1), pk.argmax(1)).astype(np.int64)
