"""A model's systems as plain Python, to step through: ``ModelWorld(..., debug=True)``.

What ``NUMBA_DISABLE_JIT=1`` does for a whole process, for one world: the generated
module of the model is executed from the same source as Python (``kernel`` is the
identity, ``prange`` is ``range``), and every Numba function it calls, the model's own
and the engine's, runs as its Python original (``py_func``), with the Numba functions
that one calls replaced the same way. A breakpoint in a system stops there; ``pdb``
shows the generated loop around it (its source is registered with ``linecache``). An
exception raised in a system names the system and, in a per-row system, the row
(:class:`SystemError_`), with the original exception chained and its traceback kept.

The results equal the compiled world's (the same draws, the same order), so a test can
run both. It is slow (Python per row): use it on small worlds. Numba intrinsics have
Python stand-ins (``cycles``: a clock, ``prefetch``: nothing, ``borrow``: its
argument); the tileworld model, which calls compiled phases by address, cannot run
this way.
"""

from __future__ import annotations

import linecache
import time
import types

import numpy as np
from numba.core.registry import CPUDispatcher
from numba.extending import _Intrinsic

from .errors import DodSimError

__all__ = ["python_function", "python_module", "SystemError_"]


class SystemError_(DodSimError, RuntimeError):
    """An exception raised inside a model's system, run in debug mode: ``system`` and
    ``row`` (None for a whole-column system) say where; the original is ``__cause__``."""

    def __init__(self, message, *, system, row=None):
        super().__init__(message, field="system", value=system)
        self.system = system
        self.row = row


def _cycles():
    return time.perf_counter_ns()


def _prefetch(array, index):
    return None


def _borrow(x):
    return x


def _stand_in(obj):
    """The Python stand-in of a Numba intrinsic, or None."""
    name = getattr(obj, "_name", "") or getattr(obj, "__name__", "")
    return {"cycles": _cycles, "prefetch": _prefetch, "borrow": _borrow}.get(name)


class _ModuleProxy(types.ModuleType):
    """A module whose Numba functions read as their Python originals (``rng.uniform``)."""

    def __init__(self, module, memo):
        super().__init__(module.__name__)
        self.__dict__["_module"] = module
        self.__dict__["_memo"] = memo

    def __getattr__(self, name):
        return _python(getattr(self._module, name), self._memo)


def _python(obj, memo):
    """``obj`` as plain Python: a Numba function's original, an intrinsic's stand-in, a
    dod_sim or user module behind a proxy; anything else as it is."""
    if isinstance(obj, CPUDispatcher) or (hasattr(obj, "py_func") and hasattr(obj, "compile")):
        return python_function(obj, memo)
    if isinstance(obj, _Intrinsic):
        return _stand_in(obj) or _unavailable(obj)
    if isinstance(obj, types.ModuleType) and not isinstance(obj, _ModuleProxy) and (
            obj.__name__.split(".")[0] == "dod_sim" or _user_module(obj)):
        return _ModuleProxy(obj, memo)
    return obj


def _unavailable(intrinsic):
    def call(*args):
        raise TypeError(f"Numba intrinsic {intrinsic!r} has no Python stand-in: code that "
                        f"calls it cannot run in debug mode")
    return call


def _user_module(obj) -> bool:
    """A module of the user's own (not numpy, numba or the standard library)."""
    if not isinstance(obj, types.ModuleType) or isinstance(obj, _ModuleProxy):
        return False
    root = obj.__name__.split(".")[0]
    return root not in ("numpy", "numba", "math", "cmath", "builtins", "llvmlite") and \
        not root.startswith("_")


def _names(code) -> set:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def python_function(dispatcher, memo=None):
    """The Python original of Numba function ``dispatcher`` with every Numba function,
    intrinsic or dod_sim module it names replaced by its Python form."""
    memo = {} if memo is None else memo
    if id(dispatcher) in memo:
        return memo[id(dispatcher)]
    py = dispatcher.py_func
    env = dict(py.__globals__)
    fn = types.FunctionType(py.__code__, env, py.__name__, py.__defaults__, py.__closure__)
    fn.__kwdefaults__ = py.__kwdefaults__
    fn.__doc__ = py.__doc__
    fn.__qualname__ = py.__qualname__
    fn.__module__ = py.__module__
    memo[id(dispatcher)] = fn
    for name in _names(py.__code__):
        if name in env:
            env[name] = _python(env[name], memo)
    return fn


def _row_of(tb, code):
    """The value of ``i`` in the frame of ``code`` in traceback ``tb`` (the row)."""
    while tb is not None:
        if tb.tb_frame.f_code is code:
            return tb.tb_frame.f_locals.get("i")
        tb = tb.tb_next
    return None


def _naming(fn, system, per_row):
    """``fn`` raising SystemError_ that names ``system`` (and the row, for a per-row
    system's loop ``fn``) for any exception from inside it."""
    def run(*args):
        try:
            return fn(*args)
        except SystemError_:
            raise
        except Exception as e:
            row = _row_of(e.__traceback__, fn.__code__) if per_row else None
            where = f"system {system}" + (f", row {row}" if row is not None else "")
            raise SystemError_(f"{where}: {type(e).__name__}: {e}", system=system,
                               row=row) from e
    run.__wrapped__ = fn
    return run


def python_module(model, name: str, source: str, fns):
    """The generated module ``source`` of ``model`` as plain Python: ``kernel`` the
    identity, ``prange`` ``range``, the engine's functions it imports and the injected
    user functions ``fns`` (``_f<k>``) in Python form; each system's code raises
    :class:`SystemError_` naming it. Its source is registered with ``linecache`` under
    a ``<dod_sim debug ...>`` file name, for tracebacks and pdb."""
    imports = "from dod_sim.kernels._jit import kernel"
    assert imports in source
    source = source.replace(imports, "pass  # debug: kernel is the identity")
    filename = f"<dod_sim debug {name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(name)
    env = module.__dict__
    env["kernel"] = lambda fn=None, **options: (lambda f: f) if fn is None else fn
    exec(compile(source, filename, "exec"), env)
    memo = {}
    for key, value in list(env.items()):  # the engine functions it imported
        if not key.startswith("__") and key != "kernel":
            env[key] = _python(value, memo)
    env["prange"] = range
    systems = model.systems + model.setup
    kernels = {id(s.fn): s.name for s in systems if type(s).__name__ == "Kernel"}
    for k, f in enumerate(fns):
        py = python_function(f, memo)
        env[f"_f{k}"] = _naming(py, kernels[id(f)], False) if id(f) in kernels else py
    for k, s in enumerate(systems):  # the per-row loops name the system and the row
        for loop in (f"_rows{k}", f"_turns{k}"):
            if loop in env:
                env[loop] = _naming(env[loop], s.name, True)
    return module
