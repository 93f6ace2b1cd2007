"""Input checks, on sklearn.utils's ``check_scalar`` and ``check_array`` where they suffice. Each returns
the cleaned value or raises a ValueError (TypeError: not data) naming the argument and the value found."""
from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable

import numpy as np
from sklearn.utils import check_array, check_scalar


def _shown(a, n: int = 10) -> str:
    flat = np.asarray(a).ravel()
    return str(flat[:n].tolist()) + (" ..." if flat.size > n else "")


def _typed(value, name, kind, what, error=TypeError):  # check_scalar takes True as an int, hides the value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind):
        raise error(f"{name} must be {what}; got {value!r} ({type(value).__name__})")
    return value


def check_int(value, name, low=None, high=None, high_msg=None) -> int:
    """An integer (not a bool) in ``[low, high]``; ``high_msg`` replaces the message above ``high``."""
    _typed(value, name, numbers.Integral, "an integer", ValueError)
    if high_msg is not None and high is not None and value > high:
        raise ValueError(high_msg)
    return int(check_scalar(value, name, numbers.Integral, min_val=low, max_val=high))


def check_real(value, name, low=None) -> float:
    """A finite real number (not a bool), at least ``low``; a Python ``float``."""
    _typed(value, name, numbers.Real, "a real number", ValueError)
    if not math.isfinite(value):
        raise ValueError(f"{name}={value} but expected a finite number")
    return check_scalar(float(value), name, float, min_val=low)


def check_positive(value, name) -> float:
    """A finite real number > 0 (a temperature, a learning rate)."""
    return check_scalar(check_real(value, name), name, float, min_val=0.0, include_boundaries="neither")


def check_unit_interval(value, name) -> float:
    """A finite real number in ``[0, 1]``."""
    return check_scalar(check_real(value, name), name, float, min_val=0.0, max_val=1.0)


def check_choice(value, name, choices):
    """One of ``choices`` (compared as given, so ``"cls"`` but not ``"CLS"``)."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}={value!r} but expected one of {', '.join(map(repr, choices))}")
    return value


def check_path(value, name):
    """A file or folder path: a string or an ``os.PathLike`` (returned as given)."""
    return _typed(value, name, (str, os.PathLike), "a path (a string or pathlib.Path)")


def _array(values, name, **kwargs) -> np.ndarray:
    try:
        return check_array(values, input_name=name, **kwargs)
    except (ValueError, TypeError) as err:  # its messages on shape, size and type do not name the argument
        raise type(err)(str(err) if str(err).startswith(f"Input {name} ") else f"{name}: {err}") from None


def check_reps(reps, name="reps", dtype=np.float32) -> np.ndarray:
    """``check_array``: 2-D, non-empty, finite, C order, float32 for FAISS; messages name ``name``."""
    return _array(reps, name, dtype=dtype, order="C")


def check_vector(values, name) -> np.ndarray:
    """A finite, non-empty 1-D float64 array (scores, per-seed values)."""
    a = _array(values, name, dtype=np.float64, ensure_2d=False)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {a.shape}")
    return a


def check_matrix(a, name) -> np.ndarray:
    """A finite, non-empty 2-D float64 array (distances of shape (n, k))."""
    return check_reps(a, name, np.float64)


def check_proba(p, name, n_classes=None, atol=1e-4) -> np.ndarray:
    """Probabilities of shape (n, C): finite, in [0, 1], each row summing to 1 within ``atol``."""
    a = check_reps(p, name, np.float64)
    if n_classes is not None and a.shape[1] != n_classes:
        raise ValueError(f"{name} has {a.shape[1]} columns but n_classes={n_classes}; "
                         f"expected shape (n, {n_classes})")
    lo, hi = float(a.min()), float(a.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(f"{name} must hold probabilities in [0, 1]; found min={lo:.4g}, max={hi:.4g} "
                         "(pass softmax probabilities, not logits)")
    off = np.abs(a.sum(axis=1) - 1.0)
    if atol is not None and (off > atol).any():
        row = int(np.argmax(off))
        raise ValueError(f"{name} rows must each sum to 1 (within {atol:g}); row {row} sums to "
                         f"{a[row].sum():.4g} (pass softmax probabilities, not scores or unnormalised "
                         "weights)")
    return a


def _integers(values, name, ndim, n, what, hint="") -> np.ndarray:
    """int64 in ``0 .. n-1`` (``>= 0`` if n is None): integral floats pass; bools, NaN, str fail."""
    a = np.asarray(values)
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D; got {a.ndim}-D with shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty: shape {a.shape}; expected at least one value")
    integral_floats = a.dtype.kind == "f" and np.isfinite(a).all() and (a == np.round(a)).all()
    python_ints = a.dtype.kind == "O" and all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                              for v in a.ravel())
    if not (a.dtype.kind in "iu" or integral_floats or python_ints):
        raise ValueError(f"{name} must be {what}; got dtype {a.dtype} with values such as {_shown(a)}")
    out = a.astype(np.int64)
    bad = (out < 0) | (out >= (np.inf if n is None else n))
    if bad.any():
        raise ValueError(f"{name} must be {what}; found {int(bad.sum())} outside that range: "
                         f"{np.unique(out[bad]).tolist()}{hint if (out == -1).any() else ''}")
    return out


def check_labels(labels, n_classes=None, name="labels", ndim=1) -> np.ndarray:
    """Integers in ``0 .. n_classes-1`` (any ``>= 0`` if ``n_classes`` is None); int64."""
    what = "non-negative integers" if n_classes is None else f"integers in 0..{n_classes - 1}"
    return _integers(labels, name, ndim, n_classes, what)


def check_correct(values, name) -> np.ndarray:
    """Whether each example was predicted right: a non-empty 1-D array of booleans or 0/1, as float."""
    c = np.asarray(values)
    return check_labels(c.astype(int) if c.dtype == bool else c, 2, name).astype(float)


def check_indices(indices, n, name="indices", ndim=1) -> np.ndarray:
    """Rows of ``n`` examples; FAISS's ``-1`` (no neighbour; NumPy: the last row) is refused."""
    return _integers(indices, name, ndim, n, f"integers in 0..{n - 1} (indices into {n} examples)",
                     " (-1 is FAISS's mark for a missing neighbour)")


def check_label_map(label_map, n_classes, n_labels=None) -> np.ndarray:
    """``label_map[c]``, an integer in ``0 .. n_labels-1``: the task's label for model class c."""
    if label_map is None:
        return np.arange(n_classes)
    m, high = np.asarray(label_map), np.inf if n_labels is None else n_labels
    if m.shape != (n_classes,) or m.dtype.kind not in "iu" or (m < 0).any() or (m >= high).any():
        what = "non-negative integers" if n_labels is None else f"integers in 0..{n_labels - 1}"
        raise ValueError(f"label_map must be {n_classes} {what} (one task label per model class); "
                         f"got {m.tolist()}")
    return m.astype(np.int64)


def check_same_shape(a, b, name_a, name_b) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} has shape {a.shape} and {name_b} has shape {b.shape}; "
                         "expected the same shape")


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
    """Before caching: ``shape``, floats, every row filled (unfilled rows are NaN) and finite."""
    a = np.asarray(arr)
    floats = a.dtype.kind in "fc"
    rows = np.flatnonzero(~np.isfinite(a.reshape(len(a), -1)).all(1)) if floats and a.ndim else []
    if not floats or len(rows) or (shape is not None and a.shape != tuple(shape)):
        raise ValueError(f"computed {name} has shape {a.shape}, dtype {a.dtype} and "
                         f"{len(rows)} rows unfilled or not finite {_shown(rows, 5)}; expected shape "
                         f"{tuple(shape or a.shape)}, floats, every row finite. Nothing was cached")
    return check_proba(a, f"computed {name}") if proba else a


def _text(v) -> str:
    return ("NaN" if isinstance(v, float) and math.isnan(v) else repr(v)) + f" ({type(v).__name__})"


def check_texts(values, name) -> list:
    """A list (or other sequence, Series, array) of strings; a lone string is refused."""
    if isinstance(values, (str, bytes, dict)) or not all(hasattr(values, a) for a in ("__len__", "__iter__")):
        got = f"a single {_text(values)}; wrap it in a list" if isinstance(values, (str, bytes)) else ""
        raise TypeError(f"{name} must be a list of strings, one per pair; got {got or type(values).__name__}")
    out = list(values)
    for i, v in enumerate(out):
        if not isinstance(v, str):
            raise ValueError(f"{name}[{i}] must be a string; got {_text(v)}")
    return out


def check_pairs(df, need_label: bool, n_classes: int = 3, *, name: str = "df") -> None:
    """A non-empty DataFrame: string ``premise``/``hypothesis`` (and ``label`` in 0..n_classes-1)."""
    check_frame(df, name, ["premise", "hypothesis"] + ["label"] * need_label)
    for col in ("premise", "hypothesis"):
        bad = [i for i, v in enumerate(df[col].tolist()) if not isinstance(v, str)]
        if bad:
            raise ValueError(f"{name}: column {col!r} must hold strings; row {df.index[bad[0]]!r} "
                             f"(position {bad[0]}) holds {_text(df[col].iloc[bad[0]])}, and {len(bad)} rows "
                             "in all are not strings")
    if need_label:
        check_labels(df["label"].to_numpy(), n_classes, f"{name} labels")


def check_str(value, name) -> str:
    """A string (a name, a title, a regular expression)."""
    return _typed(value, name, str, "a string")


def check_frame(df, name, columns=()):
    """A non-empty DataFrame holding ``columns``."""
    import pandas as pd
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a DataFrame; got {type(df).__name__}")
    if missing := [c for c in columns if c not in df.columns]:
        raise ValueError(f"{name} lacks columns {missing}; it has {list(df.columns)}")
    if len(df) == 0:
        raise ValueError(f"{name} is empty: a DataFrame with no rows")
    return df


def check_dict(value, name, keys=(), *, allow_empty=False) -> dict:
    """A dict (non-empty unless ``allow_empty``) holding ``keys``."""
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict; got {type(value).__name__}")
    if missing := [k for k in keys if k not in value]:
        raise ValueError(f"{name} lacks keys {missing}; it has {list(value)}")
    if not value and not allow_empty:
        raise ValueError(f"{name} is empty: expected at least one entry")
    return value


def check_records(values, name, keys=(), *, allow_empty=False) -> list:
    """A list (or tuple) of dicts, each holding ``keys``; non-empty unless ``allow_empty``."""
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"{name} must be a list of dicts; got {type(values).__name__}")
    if not values and not allow_empty:
        raise ValueError(f"{name} is empty: expected at least one record")
    return [check_dict(v, f"{name}[{i}]", keys, allow_empty=True) for i, v in enumerate(values)]


def check_grid(values, name, check) -> np.ndarray:
    """A non-empty grid (k, T, tau), each value checked by ``check(v, "name[i]")``; sorted, deduplicated."""
    if not isinstance(values, Iterable) or not (values := list(values)):
        raise ValueError(f"{name} must be a non-empty sequence; got {values!r}")
    return np.unique([check(v, f"{name}[{i}]") for i, v in enumerate(values)])
