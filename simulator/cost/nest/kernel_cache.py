"""numba's on-disk kernel cache, made to notice edits to the kernels a kernel compiles in.

The nest engine's kernels are compiled by numba with ``cache=True`` (``counts``, ``fast_kernels``,
``moves``, ``rows``, ``score``, ``spatial``, ``systolic``, ``tiles``, ``union``). numba keys a
cached kernel on the time stamp and size of the
one file that defines it. A kernel that calls kernels of another file compiles them in, so after
an edit to :mod:`.counts` alone (``git pull``, a checkout, an editor), ``score._score`` would load
its cached machine code with the old counts inlined: wrong numbers, silently.

:func:`bind` stamps every cached kernel of the given modules with one fingerprint of all their
sources (SHA-256 of the files' bytes) next to numba's own stamp, so an edit to any of them makes
every kernel's cache stale and numba compiles them again. It reaches into numba's cache record
(``Dispatcher._cache._cache_file._source_stamp``, present since numba 0.36; the project asks for
0.59 or later). Should a numba release drop it, :func:`bind` turns the on-disk cache of those
kernels off (compiled each process, never stale) and says so in a :class:`RuntimeWarning`.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

_MARK = "picojoule-kernel-sources"


def fingerprint(paths: Sequence[Path]) -> str:
    """SHA-256 over the bytes of ``paths`` in the order given, each preceded by its name."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def cached_kernels(modules: Iterable[ModuleType]) -> list[Any]:
    """The numba dispatchers with an on-disk cache defined in ``modules`` (in module order, then
    by name)."""
    out = []
    for m in modules:
        for name in sorted(vars(m)):
            obj = getattr(m, name)
            if getattr(obj, "__module__", None) == m.__name__ and getattr(obj, "_cache", None) is not None:
                if type(obj._cache).__name__ != "NullCache":
                    out.append(obj)
    return out


def bind(modules: Sequence[ModuleType]) -> str:
    """Stamp the cached kernels of ``modules`` with the fingerprint of all their sources (module
    docstring); returns the fingerprint. Binding twice with the same sources changes nothing."""
    fp = fingerprint([Path(str(m.__file__)) for m in modules])
    for kernel in cached_kernels(modules):
        try:
            record = kernel._cache._cache_file
            stamp = record._source_stamp
        except AttributeError:
            warnings.warn(
                f"numba's cache record has no source stamp in this numba version: {kernel.__name__} is "
                "compiled in each process instead of cached on disk (simulator/cost/nest/kernel_cache.py)",
                RuntimeWarning,
                stacklevel=2,
            )
            kernel._cache.disable()
            continue
        base = stamp[1] if isinstance(stamp, tuple) and stamp[:1] == (_MARK,) else stamp
        record._source_stamp = (_MARK, base, fp)
    return fp
