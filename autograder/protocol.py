"""The crossing between the sandbox and the grader, declared once: both sides import this module.

Everything that comes out of the sandbox is the student's output. It is read here, strictly:

- **events** (one JSON object per line on the sandbox's report pipe): ``parse_event`` accepts
  exactly the message types below, with exactly their keys and types, or returns ``None``
  (a garbled report: the check fails with a reason, the grader never crashes);
- **a check's data**: each probe declares the shape of what it returns with the schema
  types below (``Arr``, ``Num``, ``Flag``, ``Text``, ``Rec``, ``Seq``, ``Opt``); ``validate``
  checks a value against it and raises ``SchemaError`` (a readable path and reason) on anything
  missing, extra, of the wrong type, non-finite where a number must be finite, or too large.

The schemas carry no parameter of any judgement: which inputs, how many cases, epochs, batch
sizes and thresholds all live on the grading side (``judges.py``), never in the data.

Arrays travel as ``{"shape": [...], "values": [...]}`` (row-major floats; NaN and ±inf as
Python's json writes them).
"""
import math
from enum import StrEnum
from typing import Any, Literal, TypedDict

MAX_TEXT = 2000              # characters of any text the sandbox sends (error messages)
MAX_ARRAY = 100_000          # entries of any array the sandbox sends


# --- messages ------------------------------------------------------------------------------

class Event(StrEnum):
    CELL_START = "cell_start"
    CELLS_DONE = "cells_done"
    RESULT = "result"
    CHECK_DONE = "check_done"


class ProbeStatus(StrEnum):
    OK = "ok"            # the probe ran; "data" is its output, to be validated against its schema
    ERROR = "error"      # the student's code raised or returned something unusable; "data" is the message


class Status(StrEnum):
    """How a check's run in the sandbox ended (what the judge is handed)."""
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    CRASHED = "crashed"


class CellError(TypedDict):
    cell: str
    error: str


class CellStart(TypedDict):
    event: Literal["cell_start"]
    index: int


class CellsDone(TypedDict):
    event: Literal["cells_done"]
    cell_errors: list[CellError]


class Result(TypedDict):
    event: Literal["result"]
    check: str
    status: ProbeStatus
    data: Any


class CheckDone(TypedDict):
    event: Literal["check_done"]
    check: str
    wait_status: int


def _is_int(v):
    return type(v) is int


def _is_text(v):
    return type(v) is str and len(v) <= MAX_TEXT


def _cell_error(v):
    return type(v) is dict and set(v) == {"cell", "error"} and _is_text(v["cell"]) and _is_text(v["error"])


_EVENT_FIELDS = {
    Event.CELL_START: {"index": _is_int},
    Event.CELLS_DONE: {"cell_errors": lambda v: type(v) is list and len(v) <= 100 and all(map(_cell_error, v))},
    Event.RESULT: {"check": _is_text, "status": lambda v: v in set(ProbeStatus), "data": lambda v: True},
    Event.CHECK_DONE: {"check": _is_text, "wait_status": _is_int},
}


def parse_event(event):
    """The event (a dict decoded from one JSON line) if it is exactly one of the messages above; else None."""
    if type(event) is not dict or event.get("event") not in set(Event):
        return None
    fields = _EVENT_FIELDS[Event(event["event"])]
    if set(event) != {"event", *fields} or not all(ok(event[k]) for k, ok in fields.items()):
        return None
    if event["event"] == Event.RESULT and event["status"] == ProbeStatus.ERROR and not _is_text(event["data"]):
        return None
    return event


def clean_text(text, limit=MAX_TEXT):
    """Text safe to show and store: valid UTF-8 (lone surrogates replaced), at most `limit` characters."""
    if type(text) is not str:
        return ""
    return text.encode("utf-8", "replace").decode("utf-8")[:limit]


def safe_str(value, limit=300):
    """str(value) that never raises (a student's exception may define a __str__ that raises)."""
    try:
        text = str(value)
        if type(text) is not str:
            raise TypeError
    except BaseException:  # noqa: BLE001 - whatever a student's __str__ does
        text = f"<{type(value).__name__} whose str() failed>"
    return clean_text(text, limit)


# --- schemas of a check's data ---------------------------------------------------------------

class SchemaError(Exception):
    """What the sandbox returned does not have the declared form. str() is shown to the student."""

    def __init__(self, path, reason):
        super().__init__(f"at {path or 'the top'}: {reason}")


def _kind(value):
    return type(value).__name__


def _float(value, path):
    try:
        return float(value)
    except OverflowError:
        raise SchemaError(path, "a number too large for a float") from None


class Schema:
    def check(self, value, path):       # pragma: no cover - every schema overrides it
        raise NotImplementedError


class Num(Schema):
    """A number (int or float, not bool). Finite unless finite=False."""

    def __init__(self, finite=True):
        self.finite = finite

    def check(self, value, path):
        if type(value) not in (int, float):
            raise SchemaError(path, f"expected a number, got {_kind(value)}")
        number = _float(value, path)
        if self.finite and not math.isfinite(number):
            raise SchemaError(path, f"expected a finite number, got {number}")
        return number


class Int(Schema):
    """A whole number (not bool) in [low, high]."""

    def __init__(self, low=-2 ** 31, high=2 ** 31):
        self.low, self.high = low, high

    def check(self, value, path):
        if type(value) is not int or not self.low <= value <= self.high:
            raise SchemaError(path, f"expected a whole number from {self.low} to {self.high}, "
                                    f"got {safe_str(value, 40) if type(value) in (int, float) else _kind(value)}")
        return value


class Flag(Schema):
    def check(self, value, path):
        if type(value) is not bool:
            raise SchemaError(path, f"expected True or False, got {_kind(value)}")
        return value


class Text(Schema):
    def check(self, value, path):
        if type(value) is not str:
            raise SchemaError(path, f"expected text, got {_kind(value)}")
        return clean_text(value)


class Arr(Schema):
    """An array {"shape": [...], "values": [...]}: any shape (its correctness is the judge's to say),
    at most `max_size` entries, values numbers (NaN/inf allowed: a judge reports them as wrong values)."""

    def __init__(self, max_size=MAX_ARRAY, max_ndim=4):
        self.max_size, self.max_ndim = max_size, max_ndim

    def check(self, value, path):
        if type(value) is not dict or set(value) != {"shape", "values"}:
            raise SchemaError(path, f"expected an array, got {_kind(value)}")
        shape, values = value["shape"], value["values"]
        if type(shape) is not list or len(shape) > self.max_ndim or \
                not all(_is_int(n) and 0 <= n <= self.max_size for n in shape):
            raise SchemaError(path, "an array's shape must be a short list of sizes")
        if math.prod(shape) > self.max_size:
            raise SchemaError(path, f"an array of shape {tuple(shape)} is larger than any answer here "
                                    f"({self.max_size} entries at most)")
        if type(values) is not list or len(values) != math.prod(shape):
            raise SchemaError(path, f"an array of shape {tuple(shape)} must have {math.prod(shape)} values")
        if not all(type(v) in (int, float) for v in values):
            raise SchemaError(path, "an array's values must be numbers")
        return {"shape": list(shape), "values": [_float(v, path) for v in values]}


class Opt(Schema):
    """`schema` or None."""

    def __init__(self, schema):
        self.schema = schema

    def check(self, value, path):
        return None if value is None else self.schema.check(value, path)


class Seq(Schema):
    """A list of exactly `length` items (or at most `max_length` when length is None)."""

    def __init__(self, item, length=None, max_length=10_000):
        self.item, self.length, self.max_length = item, length, max_length

    def check(self, value, path):
        if type(value) is not list:
            raise SchemaError(path, f"expected a list, got {_kind(value)}")
        if self.length is not None and len(value) != self.length:
            raise SchemaError(path, f"expected {self.length} items, got {len(value)}")
        if len(value) > self.max_length:
            raise SchemaError(path, f"expected at most {self.max_length} items, got {len(value)}")
        return [self.item.check(v, f"{path}[{i}]") for i, v in enumerate(value)]


class Rec(Schema):
    """A dict with exactly these keys (those in `optional` may be absent)."""

    def __init__(self, fields, optional=()):
        self.fields, self.optional = dict(fields), frozenset(optional)

    def check(self, value, path):
        if type(value) is not dict:
            raise SchemaError(path, f"expected a record, got {_kind(value)}")
        extra = [k for k in value if k not in self.fields]
        missing = [k for k in self.fields if k not in value and k not in self.optional]
        if extra:
            raise SchemaError(path, f"unexpected key {safe_str(extra[0], 60)!r}")
        if missing:
            raise SchemaError(path, f"missing key {missing[0]!r}")
        return {k: self.fields[k].check(v, f"{path}[{k!r}]") for k, v in value.items()}


class Map(Schema):
    """A dict whose keys are among `keys` (any subset), each value of `item`: what a student's dict
    of gradients or parameters may hold; a missing key is the judge's to report."""

    def __init__(self, keys, item):
        self.keys, self.item = tuple(keys), item

    def check(self, value, path):
        if type(value) is not dict:
            raise SchemaError(path, f"expected a record, got {_kind(value)}")
        extra = [k for k in value if k not in self.keys]
        if extra:
            raise SchemaError(path, f"unexpected key {safe_str(extra[0], 60)!r}")
        return {k: self.item.check(v, f"{path}[{k!r}]") for k, v in value.items()}


def validate(schema, value):
    """`value` checked against `schema` (a cleaned copy); raises SchemaError."""
    return schema.check(value, "")
