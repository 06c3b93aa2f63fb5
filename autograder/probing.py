"""What every assignment's probes share: the registry, and calling student code safely.

A probe is the only part of the grader that touches student code. It takes the namespace the
student's notebook cells ran in and the check's inputs (plain data made by the grading side),
calls the student's functions, and returns JSON-able data of the form it declares
(``protocol.py`` schemas). It decides nothing: the assignment's judges do, outside the sandbox.

Each assignment's ``probes.py`` makes one ``Probes()`` and registers its probes on it:

    _probes = Probes()
    PROBES, SCHEMAS, probe, run_probe = _probes.probes, _probes.schemas, _probes.probe, _probes.run

    @probe("relu", returns=Rec({...}))
    def probe_relu(ns, inputs): ...

This module is loaded into the sandbox: it imports nothing from ``src`` or any judge.
"""
import contextlib
import io
import warnings

import numpy as np


class StudentCodeError(Exception):
    """The student's code raised, or returned something unusable. Message is shown to the student."""


class Probes:
    """One assignment's probes: check name -> function, and check name -> the schema of its data."""

    def __init__(self):
        self.probes, self.schemas = {}, {}

    def probe(self, name, returns):
        """Register a probe for check `name`, with the schema of the data it returns."""
        def register(fn):
            self.probes[name] = fn
            self.schemas[name] = returns
            return fn
        return register

    def run(self, name, namespace, inputs):
        """Run one probe here and now; return ("ok", data) or ("error", message)."""
        with warnings.catch_warnings(), np.errstate(all="ignore"), \
                contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            try:
                return "ok", self.probes[name](namespace, inputs)
            except StudentCodeError as e:
                return "error", str(e)
            except BaseException as e:  # noqa: BLE001 - student code may even raise SystemExit
                return "error", f"{type(e).__name__}: {str(e)[:300]}"


def lookup(ns, name):
    """The student's `name` from the notebook's namespace, or a StudentCodeError saying it is missing."""
    if name not in ns:
        raise StudentCodeError(f"your notebook's solution cells do not define `{name}` (only solution cells "
                               "are graded, top to bottom: did its cell run without errors?)")
    return ns[name]


def call(what, fn, *args, **kwargs):
    """Call student code; turn any exception into a readable StudentCodeError."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise StudentCodeError(f"{what} is not implemented yet (it raises NotImplementedError)") from None
    except FloatingPointError as e:
        raise StudentCodeError(f"{what} is not numerically stable: {e} for |z| up to 1e4") from None
    except MemoryError:
        raise StudentCodeError(f"{what} ran out of memory (an array far larger than the inputs?)") from None
    except Exception as e:  # noqa: BLE001 - any failure of student code is reported, not raised
        raise StudentCodeError(f"{what} raised {type(e).__name__}: {str(e)[:300]}") from None


def plain(value, what):
    """Numeric value -> {"shape", "values"} (floats, shape preserved), or a StudentCodeError."""
    if value is None:
        raise StudentCodeError(f"{what} is None (a missing `return`, or a value never stored?)")
    try:
        arr = np.asarray(value, dtype=float)
    except Exception:  # noqa: BLE001
        raise StudentCodeError(f"{what} is a {type(value).__name__}, not numbers") from None
    return {"shape": list(arr.shape), "values": arr.ravel().tolist()}
