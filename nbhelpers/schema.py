"""The building blocks of the chapters' typed records (:mod:`nbhelpers.results`), on pydantic v2:
``Number``, ``Fraction`` (in [0, 1]), ``Seconds`` (>= 0), ``Maybe`` numbers (NaN reads as ``None``),
:func:`shape`, :class:`Schema` and :class:`Record`. Errors are ``ValueError`` exceptions that name
the file, the field and the value."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Annotated, ClassVar, Optional

import numpy as np
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, FiniteFloat, JsonValue, StrictInt,
                      ValidationError, field_validator, with_config)
from pydantic_core import to_jsonable_python
from typing_extensions import NotRequired, TypedDict

from .cache import write_atomic


def _nan_to_none(value):
    """NaN (a spread over one seed, a mean over nothing) becomes ``None``, inside lists and dicts too."""
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return None if isinstance(value, float) and math.isnan(value) else value


def _number(**bounds):
    """An int (it stays an int in the file) or a finite float, within pydantic's ``bounds``."""
    return Annotated[StrictInt, Field(**bounds)] | Annotated[FiniteFloat, Field(**bounds)]


Number = _number()
Seconds = _number(ge=0)
Fraction = _number(ge=0, le=1)
MaybeNumber = Annotated[Optional[Number], BeforeValidator(_nan_to_none)]
MaybeFraction = Annotated[Optional[Fraction], BeforeValidator(_nan_to_none)]
Interval = Annotated[list[Number], Field(min_length=2, max_length=2)]
FractionInterval = Annotated[list[Fraction], Field(min_length=2, max_length=2)]
Json = Annotated[JsonValue, BeforeValidator(_nan_to_none)]
Table = dict[str, list[Json]]
"""A table by column (``DataFrame.to_dict("list")``); NaN cells become ``None``."""
OMIT = {"default": None, "exclude_if": lambda v: v is None}
"""``Field(**OMIT)``: a field that may be absent, left out of the file when ``None``."""


def shape(name: str, keys: dict, *, optional=()):
    """A nested object with known ``keys`` (a checked TypedDict); ``optional`` keys may be absent."""
    fields = {k: NotRequired[v] if k in optional else v for k, v in keys.items()}
    return with_config(ConfigDict(extra="forbid", strict=True))(TypedDict(name, fields))


def _tolist(value):
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"value must be JSON (dict, list, str, number, bool, None); got {type(value).__name__}")


def jsonable(value):
    """``value`` with numpy scalars and arrays, tuples and non-string dict keys made plain JSON."""
    return to_jsonable_python(value, fallback=_tolist)


_UNION_MEMBER = re.compile(r"^((constrained-)?(int|float)|str|bool|list|dict|[\w-]+\[.*\])$")  # a tag


def _invalid(where, err: ValidationError) -> ValueError:
    """One ``ValueError``: ``where``, then each field, what it expects and the value."""
    problems = {}
    for e in err.errors():  # a union's members all fail at one place: the last one's message stands
        at = ".".join(str(p) for p in e["loc"] if not _UNION_MEMBER.match(str(p))) or "(the object itself)"
        problems[at] = f"{at}: {e['msg']}" + ("" if e["type"] == "missing" else f", got {e['input']!r:.80}")
    return ValueError(f"{where}: {len(problems)} invalid value{'s' * (len(problems) > 1)}: "
                      + "; ".join(problems.values()))


class Schema(BaseModel):
    """A checked JSON object: the base of the records and of the objects they nest."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, validate_assignment=True,
                              validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    @field_validator("*", mode="before")
    @classmethod
    def _plain(cls, value):
        """numpy values become Python ones, tuples lists, nested records dicts."""
        return jsonable(value)

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


def _refuse(token):
    raise ValueError(f"{token} is not valid JSON")


class Record(Schema):
    """A chapter's record: :meth:`save` writes ``<results_dir>/<NAME>.json``, :meth:`load` reads it."""

    NAME: ClassVar[str] = ""

    def save(self, results_dir) -> Path:
        """Check the record, then write ``<results_dir>/<NAME>.json`` atomically; return the path."""
        path = Path(results_dir, f"{self.NAME}.json")
        checked = type(self).from_dict(self.model_dump(warnings=False), where=path)  # catches edits in dicts
        text = json.dumps(checked.to_dict(), indent=1, allow_nan=False)
        return write_atomic(path, text.encode("utf-8"), mode=0o644)

    @classmethod
    def load(cls, path):
        """Read and check a record from the file ``path``."""
        try:  # a byte-order mark, bad UTF-8, a truncated file, NaN or Infinity
            obj = json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=_refuse)
        except ValueError as err:
            raise ValueError(f"{path}: not valid JSON: {err}") from None
        return cls.from_dict(obj, where=path)
