"""Input checks shared by every public function of :mod:`nbhelpers`.

One module holds them so that no module reaches into another's private helpers. Each
check returns the cleaned value (an ``int``, a ``float``, a NumPy array of the right dtype)
or raises a :class:`ValueError` (a :class:`TypeError` where only the type is wrong and the
caller passed something that is not data at all) whose message names the argument, the
expected form and the value received, like scikit-learn's ``check_array``:

>>> check_int(-1, "batch_size", low=1)
Traceback (most recent call last):
...
ValueError: batch_size=-1 but expected batch_size >= 1
"""
from __future__ import annotations

import math
import numbers
from typing import Iterable

import numpy as np

__all__ = [
    "PROBA_ATOL",
    "shape_str",
    "check_int",
    "check_real",
    "check_positive",
    "check_unit_interval",
    "check_choice",
    "check_finite",
    "check_reps",
    "check_labels",
    "check_indices",
    "check_label_map",
    "check_proba",
    "check_same_shape",
    "check_same_length",
    "check_mask",
    "check_texts",
    "check_pairs",
    "check_path_component",
    "check_computed",
]

PROBA_ATOL = 1e-4
"""How far a row of probabilities may sum from 1 (float32 softmax is within 1e-6)."""


def shape_str(shape) -> str:
    """``(3,)`` / ``(2, 4)``: a shape as NumPy prints it."""
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _shown(a: np.ndarray, n: int = 10) -> str:
    flat = np.asarray(a).ravel()
    return str(flat[:n].tolist()) + (" ..." if flat.size > n else "")


# ----------------------------------------------------------------------------------------
# scalars
# ----------------------------------------------------------------------------------------
def check_int(value, name, low=None, high=None, high_msg=None) -> int:
    """An integer (not a bool) within ``[low, high]``; returns a Python ``int``.

    >>> check_int(3, "k", low=1)
    3
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name}={value} but expected {name} >= {low}")
    if high is not None and value > high:
        raise ValueError(high_msg or f"{name}={value} but expected {name} <= {high}")
    return value


def check_real(value, name) -> float:
    """A finite real number (not a bool); returns a Python ``float``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name}={value} but expected a finite number")
    return value


def check_positive(value, name) -> float:
    """A finite real number > 0 (a temperature, a learning rate).

    >>> check_positive(0.0, "temperature")
    Traceback (most recent call last):
    ...
    ValueError: temperature=0.0 but expected temperature > 0
    """
    value = check_real(value, name)
    if value <= 0:
        raise ValueError(f"{name}={value} but expected {name} > 0")
    return value


def check_unit_interval(value, name) -> float:
    """A finite real number in ``[0, 1]``."""
    value = check_real(value, name)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}={value} but expected 0 <= {name} <= 1")
    return value


def check_choice(value, name, choices: Iterable):
    """One of ``choices`` (compared as given, so ``"cls"`` but not ``"CLS"``)."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name}={value!r} but expected one of {allowed}")
    return value


def check_path_component(value, name) -> str:
    """A plain file or folder name: a non-empty string with no separator, not ``.``/``..``.

    Cache keys and kinds go through it so that nothing is written outside the cache root.

    >>> check_path_component("../evil", "key")
    Traceback (most recent call last):
    ...
    ValueError: key must be a plain file name (no '/', '\\\\', NUL, '.' or '..'); got '../evil'
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string; got {value!r} ({type(value).__name__})")
    if (not value or value in (".", "..") or any(c in value for c in "/\\\0")):
        raise ValueError(f"{name} must be a plain file name (no '/', '\\\\', NUL, '.' or '..'); "
                         f"got {value!r}")
    return value


# ----------------------------------------------------------------------------------------
# arrays
# ----------------------------------------------------------------------------------------
def check_finite(a, name) -> None:
    """Raise if ``a`` holds NaN or inf, counting each."""
    a = np.asarray(a)
    bad = ~np.isfinite(a)
    if bad.any():
        n_nan = int(np.isnan(a).sum())
        n_inf = int(bad.sum()) - n_nan
        raise ValueError(
            f"{name} contains {int(bad.sum())} non-finite values ({n_nan} NaN, {n_inf} inf) "
            f"in an array of shape {shape_str(a.shape)}; expected only finite numbers"
        )


def check_reps(reps, name="reps") -> np.ndarray:
    """2-D, non-empty, finite, float32 and C-contiguous (what FAISS needs)."""
    try:
        a = np.asarray(reps, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{name} must be convertible to a float array of shape (n, d); got {err}"
        ) from None
    if a.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n, d); got {a.ndim}-D with shape {shape_str(a.shape)}"
        )
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(
            f"{name} is empty: shape {shape_str(a.shape)}; expected at least one "
            "representation with at least one feature"
        )
    check_finite(a, name)
    return np.ascontiguousarray(a)


def _integer_array(values, name, what):
    """``values`` as int64; integral floats pass, bools and strings do not."""
    a = np.asarray(values)
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    if a.dtype.kind == "f" and a.size and np.isfinite(a).all() and (a == np.round(a)).all():
        return a.astype(np.int64)
    if a.dtype.kind == "O" and a.size and all(
            isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
            for v in a.ravel()):
        return a.astype(np.int64)
    raise ValueError(f"{name} must be {what}; got dtype {a.dtype} with values such as {_shown(a)}")


def check_labels(labels, n_classes=None, name="labels", ndim=1) -> np.ndarray:
    """Integers in ``0 .. n_classes-1`` (any ``>= 0`` if ``n_classes`` is None); int64.

    Integral floats (``1.0``) are accepted; bools, NaN and strings are not.

    >>> check_labels([0, 2, 1], 3).tolist()
    [0, 2, 1]
    >>> check_labels([True, False], 3)
    Traceback (most recent call last):
    ...
    ValueError: labels must be integers in 0..2; got dtype bool with values such as [True, False]
    """
    a = np.asarray(labels)
    if a.ndim != ndim:
        raise ValueError(
            f"{name} must be {ndim}-D; got {a.ndim}-D with shape {shape_str(a.shape)}"
        )
    if a.size == 0:
        raise ValueError(f"{name} is empty: shape {shape_str(a.shape)}; expected at least one label")
    what = f"integers in 0..{n_classes - 1}" if n_classes is not None else "non-negative integers"
    out = _integer_array(a, name, what)
    bad = (out < 0) | ((out >= n_classes) if n_classes is not None else False)
    if bad.any():
        extra = f" (n_classes={n_classes})" if n_classes is not None else ""
        raise ValueError(
            f"{name} must be {what}{extra}; found {int(bad.sum())} outside that range: "
            f"np.unique(bad labels) = {np.unique(out[bad])}"
        )
    return out


def check_indices(indices, n, name="indices", ndim=1) -> np.ndarray:
    """Row indices into a set of ``n`` examples: integers in ``0 .. n-1``; int64.

    FAISS marks a missing neighbour with ``-1``; NumPy would read it as the *last*
    example, so it is refused here.

    >>> check_indices([[0, -1]], 3, "neighbor_indices", ndim=2)
    Traceback (most recent call last):
    ...
    ValueError: neighbor_indices must be integers in 0..2 (indices into 3 examples); found 1 outside that range: [-1] (-1 is FAISS's mark for a missing neighbour)
    """
    a = np.asarray(indices)
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D; got {a.ndim}-D with shape {shape_str(a.shape)}")
    if a.size == 0:
        raise ValueError(f"{name} is empty: shape {shape_str(a.shape)}; expected at least one index")
    out = _integer_array(a, name, f"integers in 0..{n - 1}")
    bad = (out < 0) | (out >= n)
    if bad.any():
        hint = " (-1 is FAISS's mark for a missing neighbour)" if (out == -1).any() else ""
        raise ValueError(
            f"{name} must be integers in 0..{n - 1} (indices into {n} examples); found "
            f"{int(bad.sum())} outside that range: {np.unique(out[bad]).tolist()}{hint}")
    return out


def check_label_map(label_map, n_classes) -> np.ndarray:
    """``label_map`` as an int array of length n_classes (identity if None)."""
    if label_map is None:
        return np.arange(n_classes)
    m = np.asarray(label_map)
    if m.shape != (n_classes,) or m.dtype.kind not in "iu" or (m < 0).any():
        raise ValueError(
            f"label_map must be {n_classes} non-negative integers (one per predicted class); "
            f"got {label_map!r}"
        )
    return m.astype(np.int64)


def check_matrix(a, name, *, shape=None) -> np.ndarray:
    """A finite, non-empty 2-D float array, of ``shape`` where given (``None`` in it: any size).

    >>> check_matrix([0.0, 1.0], "distances")
    Traceback (most recent call last):
    ...
    ValueError: distances must be 2-D of shape (n, k); got 1-D with shape (2,)
    """
    try:
        m = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a float array of shape (n, k); got {err}") from None
    if m.ndim != 2:
        raise ValueError(f"{name} must be 2-D of shape (n, k); got {m.ndim}-D with shape {shape_str(m.shape)}")
    if m.shape[0] == 0 or m.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {shape_str(m.shape)}; expected shape (n, k) with n, k >= 1")
    if shape is not None and any(want is not None and want != got for want, got in zip(shape, m.shape)):
        wanted = "(" + ", ".join("any" if w is None else str(w) for w in shape) + ")"
        raise ValueError(f"{name} must have shape {wanted}; got shape {shape_str(m.shape)}")
    check_finite(m, name)
    return m


def check_proba(p, name, n_classes=None, atol=PROBA_ATOL) -> np.ndarray:
    """Probabilities of shape (n, C): finite, in [0, 1], each row summing to 1 within ``atol``.

    >>> check_proba([[0.5, 0.2, 0.1]], "p_model")
    Traceback (most recent call last):
    ...
    ValueError: p_model rows must each sum to 1 (within 0.0001); row 0 sums to 0.8 (pass softmax probabilities, not scores or unnormalised weights)
    """
    try:
        a = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a float array of shape (n, C); got {err}") from None
    if a.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n, C); got {a.ndim}-D with shape {shape_str(a.shape)}"
        )
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {shape_str(a.shape)}; expected shape (n, C), n, C >= 1")
    if n_classes is not None and a.shape[1] != n_classes:
        raise ValueError(
            f"{name} has {a.shape[1]} columns but n_classes={n_classes}; expected shape (n, {n_classes})"
        )
    check_finite(a, name)
    lo, hi = float(a.min()), float(a.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(
            f"{name} must hold probabilities in [0, 1]; found min={lo:.4g}, max={hi:.4g} "
            "(pass softmax probabilities, not logits)"
        )
    if atol is not None:
        off = np.abs(a.sum(axis=1) - 1.0)
        if (off > atol).any():
            row = int(np.argmax(off))
            raise ValueError(
                f"{name} rows must each sum to 1 (within {atol:g}); row {row} sums to "
                f"{a[row].sum():.4g} (pass softmax probabilities, not scores or unnormalised "
                "weights)")
    return a


def check_same_shape(a, b, name_a, name_b) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} has shape {shape_str(a.shape)} and {name_b} has shape "
            f"{shape_str(b.shape)}; expected the same shape"
        )


def check_same_length(n_a, n_b, name_a, name_b) -> None:
    if n_a != n_b:
        raise ValueError(f"{name_a} is length {n_a} and {name_b} is length {n_b}; expected equal lengths")


def check_mask(mask, name) -> np.ndarray:
    """A 1-D boolean array."""
    m = np.asarray(mask)
    if m.ndim != 1 or m.dtype != bool:
        raise ValueError(f"{name} must be a 1-D boolean array, got dtype {m.dtype} shape {m.shape}")
    return m


def check_computed(arr, name, shape=None, *, proba=False) -> np.ndarray:
    """A freshly computed array, before it is cached: its shape, finite, rows filled.

    Unfilled rows are left NaN by the writers, so "finite" covers "every row filled".
    ``proba=True`` also asks every row to sum to 1.
    """
    a = np.asarray(arr)
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"computed {name} has shape {shape_str(a.shape)}; expected "
                         f"{shape_str(tuple(shape))}. Nothing was cached")
    if a.dtype.kind not in "fc":
        raise ValueError(f"computed {name} has dtype {a.dtype}; expected floats. Nothing was cached")
    bad_rows = ~np.isfinite(a.reshape(len(a), -1)).all(axis=1) if a.ndim else ~np.isfinite(a)
    if np.any(bad_rows):
        rows = np.flatnonzero(bad_rows)
        raise ValueError(f"computed {name} has {len(rows)} rows that are unfilled or not finite "
                         f"(rows {_shown(rows, 5)}); expected every row filled with finite "
                         "numbers. Nothing was cached")
    if proba:
        check_proba(a, f"computed {name}")
    return a


# ----------------------------------------------------------------------------------------
# text pairs
# ----------------------------------------------------------------------------------------
def check_texts(values, name) -> list:
    """A list (or other sequence, Series, array) of strings; a lone string is refused.

    >>> check_texts("A dog runs.", "premises")
    Traceback (most recent call last):
    ...
    TypeError: premises must be a list of strings, one per pair; got a single str 'A dog runs.' (wrap it in a list: ['A dog runs.'])
    """
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a list of strings, one per pair; got a single "
                        f"{type(values).__name__} {values!r} (wrap it in a list: [{values!r}])")
    if isinstance(values, dict) or not hasattr(values, "__len__") or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a list of strings, one per pair; got "
                        f"{type(values).__name__}")
    out = list(values)
    for i, v in enumerate(out):
        if not isinstance(v, str):
            shown = "NaN" if isinstance(v, float) and math.isnan(v) else repr(v)
            raise ValueError(f"{name}[{i}] must be a string; got {shown} "
                             f"({type(v).__name__})")
    return out


def check_pairs(df, need_label: bool, n_classes: int = 3, *, name: str | None = None) -> None:
    """A non-empty DataFrame with string ``premise``/``hypothesis`` (and integer ``label``).

    ``name`` (the argument's name) starts the messages where given.
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        what = f"{name} must be a DataFrame" if name else "expected a DataFrame"
        raise ValueError(f"{what} with premise/hypothesis columns, got {type(df).__name__}")
    need = ["premise", "hypothesis"] + (["label"] if need_label else [])
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValueError(f"{name or 'DataFrame'} lacks columns {missing}; it has {list(df.columns)}")
    if len(df) == 0:
        raise ValueError("the DataFrame is empty: nothing to do")
    for col in ("premise", "hypothesis"):
        values = df[col].tolist()
        bad = [i for i, v in enumerate(values) if not isinstance(v, str)]
        if bad:
            v = values[bad[0]]
            shown = "NaN" if isinstance(v, float) and math.isnan(v) else repr(v)
            raise ValueError(
                f"column {col!r} must hold strings; row {df.index[bad[0]]!r} (position {bad[0]}) "
                f"holds {shown} ({type(v).__name__}), and {len(bad)} rows in all are not strings")
    if need_label:
        labels = df["label"].to_numpy()
        allowed = ", ".join(str(c) for c in range(n_classes - 1)) + f" or {n_classes - 1}"
        if labels.dtype.kind == "b" or any(isinstance(v, (bool, np.bool_)) for v in labels):
            raise ValueError(f"labels must be {allowed}; found booleans (dtype {labels.dtype}, "
                             f"values such as {_shown(labels, 5)})")
        try:
            y = _integer_array(labels, "labels", f"integers {allowed}")
        except ValueError as err:
            raise ValueError(f"labels must be {allowed}; found non-integers ({err})") from None
        bad = sorted(set(y[(y < 0) | (y >= n_classes)].tolist()))
        if bad:
            raise ValueError(f"labels must be {allowed}; found {bad}")
