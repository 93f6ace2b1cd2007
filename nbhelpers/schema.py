"""The building blocks of the chapters' typed records (:mod:`nbhelpers.results`), on pydantic v2:
``Number``, ``Fraction`` (in [0, 1]), ``Seconds`` (>= 0), ``Maybe`` numbers (NaN reads as ``None``),
:func:`shape`, :class:`Schema` and :class:`Record`. Errors are ``ValueError`` exceptions that name
the file, the field and the value."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import (BaseModel, ConfigDict, Field, PlainValidator, ValidationError, WithJsonSchema,
                      field_validator, with_config)
from typing_extensions import NotRequired, TypedDict

from .cache import write_atomic


class _JsonConstant:
    """``NaN`` or ``Infinity`` as ``load`` reads them (JSON has neither): refused."""

    def __init__(self, token: str):
        self.token = token
    __repr__ = __str__ = lambda self: self.token


def _number(v, lo=None, hi=None, *, nullable=False):
    """``v`` if an int or a finite float in [lo, hi]; with ``nullable``, None or NaN -> None."""
    if isinstance(v, np.generic):
        v = v.item()
    if nullable and (v is None or isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, _JsonConstant):
        raise ValueError(f"{v} is not valid JSON")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a number, got {type(v).__name__}")
    if not math.isfinite(v):
        raise ValueError("expected a finite number (JSON has no NaN or Infinity)")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        hint = " (a percentage?)" if hi == 1 and v > 1 else ""
        raise ValueError(f"expected a number in [{lo}, {hi}]{hint}")
    return v


def _number_type(lo=None, hi=None, *, nullable=False):
    schema = {"type": "number"} | {key: v for key, v in (("minimum", lo), ("maximum", hi)) if v is not None}
    return Annotated[Any, PlainValidator(lambda v: _number(v, lo, hi, nullable=nullable)),
                     WithJsonSchema({"anyOf": [schema, {"type": "null"}]} if nullable else schema)]


def _json_value(v):
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    return v if isinstance(v, (str, bool)) else _number(v, nullable=True)


Number = _number_type()
Seconds = _number_type(0)
Fraction = _number_type(0, 1)
MaybeNumber = _number_type(nullable=True)
MaybeFraction = _number_type(0, 1, nullable=True)
Interval = Annotated[list[Number], Field(min_length=2, max_length=2)]
FractionInterval = Annotated[list[Fraction], Field(min_length=2, max_length=2)]
Json = Annotated[Any, PlainValidator(_json_value), WithJsonSchema({"description": "any JSON value"})]
Table = dict[str, list[Json]]
"""A table by column (``DataFrame.to_dict("list")``); NaN cells become ``None``."""
OMIT = {"default": None, "exclude_if": lambda v: v is None}
"""``Field(**OMIT)``: a field that may be absent, left out of the file when ``None``."""


def shape(name: str, keys: dict, *, optional=()):
    """A nested object with known ``keys`` (a checked TypedDict); ``optional`` keys may be absent."""
    fields = {k: NotRequired[v] if k in optional else v for k, v in keys.items()}
    return with_config(ConfigDict(extra="forbid", strict=True))(TypedDict(name, fields))


def jsonable(value):
    """``value`` with numpy scalars and arrays, tuples and non-string dict keys made plain JSON.

    >>> jsonable({"a": np.float32(0.5), 1: (np.int64(2), np.arange(2))})
    {'a': 0.5, '1': [2, [0, 1]]}
    """
    return _jsonable(value, "value")


def _jsonable(value, name=None):  # name None (the records' validator): pydantic reports what is left
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: _jsonable(v, name and f"{name}[{k!r}]")
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, name and f"{name}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), name)
    if isinstance(value, np.generic):
        return value.item()
    if name and not (value is None or isinstance(value, (str, int, float))):
        raise TypeError(f"{name} must be JSON (dict, list, str, number, bool, None); "
                        f"got {type(value).__name__}")
    return value


_UNION_TAG = re.compile(r"^[\w-]+\[.*\]$")  # pydantic names a union's member in the location: list[int]


def _problem(e: dict) -> tuple[str, str]:
    where = ".".join(str(p) for p in e["loc"] if not _UNION_TAG.match(str(p))) or "(the object itself)"
    if e["type"] == "missing":
        return where, f"{where}: missing key"
    if e["type"] == "extra_forbidden":
        return where, f"{where}: unknown key (value {e['input']!r:.60})"
    return where, f"{where}: {e['msg'].removeprefix('Value error, ')}, got {e['input']!r:.80}"


def _invalid(where, err: ValidationError) -> ValueError:
    """One ``ValueError``: ``where``, then each field, what it expects and the value."""
    problems = list(dict(_problem(e) for e in err.errors()).values())  # a union: its last member's message
    plural = "s" if len(problems) > 1 else ""
    return ValueError(f"{where}: {len(problems)} invalid value{plural}: " + "; ".join(problems))


class Schema(BaseModel):
    """A checked JSON object: the base of the records and of the objects they nest."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, validate_assignment=True,
                              validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    @field_validator("*", mode="before")
    @classmethod
    def _plain(cls, value):
        """numpy values become Python ones, tuples lists; models stay."""
        if isinstance(value, (list, tuple)):
            return [v if isinstance(v, BaseModel) else _jsonable(v) for v in value]
        return value if isinstance(value, BaseModel) else _jsonable(value)

    def to_dict(self) -> dict:
        """The JSON object, as the file holds it."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, obj, *, where=None):
        """Build and check from a JSON object; a ``ValueError`` names ``where``, the key and the value."""
        try:
            return cls.model_validate(obj)
        except ValidationError as err:
            raise _invalid(where or cls.__name__, err) from None


class Record(Schema):
    """A chapter's record: :meth:`save` writes ``<results_dir>/<NAME>.json``, :meth:`load` reads it.

    >>> class Run(Record):
    ...     NAME = "run"
    ...     accuracy: Fraction
    ...     sd: MaybeNumber
    >>> Run(accuracy=0.5, sd=float("nan")).to_dict()
    {'accuracy': 0.5, 'sd': None}
    >>> Run.from_dict({"accuracy": 50.0, "sd": None})
    Traceback (most recent call last):
    ValueError: Run: 1 invalid value: accuracy: expected a number in [0, 1] (a percentage?), got 50.0
    """

    NAME: ClassVar[str] = ""

    def save(self, results_dir) -> Path:
        """Check the record, then write ``<results_dir>/<NAME>.json`` atomically; return the path."""
        path = Path(results_dir, f"{self.NAME}.json")
        checked = type(self).from_dict(self.model_dump(), where=path)  # also catches edits inside dicts
        text = json.dumps(checked.model_dump(mode="json"), indent=1, allow_nan=False)
        return write_atomic(path, text.encode("utf-8"), mode=0o644)

    @classmethod
    def load(cls, path):
        """Read and check a record from ``path`` (a file, or the results folder holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / f"{cls.NAME}.json"
        data = path.read_bytes()
        if data.startswith(b"\xef\xbb\xbf"):
            raise ValueError(f"{path}: starts with a byte-order mark (BOM); save it as UTF-8 without one")
        try:
            obj = json.loads(data.decode("utf-8"), parse_constant=_JsonConstant)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: not valid JSON (truncated or corrupt?): {err}") from None
        return cls.from_dict(obj, where=path)
