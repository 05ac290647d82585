"""simulator.cost.nest.kernel_cache: an edit to a kernel another kernel compiles in makes both stale.

The end-to-end test builds a two-file package of numba kernels in a temporary folder, runs it in
fresh processes (numba's on-disk cache only matters across processes), edits the callee's file
and runs it again: the kernel bound by :func:`kernel_cache.bind` sees the edit; the same kernel
left unbound returns numba's stale cached result, which is the failure the module prevents.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import simulator.cost.nest as nest
from simulator.cost.nest import kernel_cache

CALLEE = textwrap.dedent(
    """
    import numba

    @numba.njit(cache=True)
    def g(x):
        return x + {step}
    """
)
BOUND = textwrap.dedent(
    """
    import numba
    from kpkg.callee import g

    @numba.njit(cache=True)
    def f(x):
        return g(x) * 10
    """
)
INIT = textwrap.dedent(
    """
    from kpkg import bound, callee, unbound
    from simulator.cost.nest import kernel_cache
    kernel_cache.bind([bound, callee])
    """
)


def _run(root: Path) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(Path(nest.__file__).parents[3])])}
    env.pop("NUMBA_CACHE_DIR", None)
    code = "import kpkg; print(kpkg.bound.f(1), kpkg.unbound.f(1))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_an_edit_to_a_compiled_in_kernel_reaches_the_bound_kernel_only(tmp_path: Path) -> None:
    pkg = tmp_path / "kpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(INIT)
    (pkg / "callee.py").write_text(CALLEE.format(step=1))
    (pkg / "bound.py").write_text(BOUND)
    (pkg / "unbound.py").write_text(BOUND)
    assert _run(tmp_path) == "20 20"  # (1 + 1) * 10, compiled and cached
    assert _run(tmp_path) == "20 20"  # loaded from the cache
    (pkg / "callee.py").write_text(CALLEE.format(step=2))
    st = (pkg / "callee.py").stat()
    os.utime(pkg / "callee.py", (st.st_atime + 10, st.st_mtime + 10))
    # bound: recompiled with the new callee; unbound: numba's stale machine code with the old one
    assert _run(tmp_path) == "30 20"


def test_bind_stamps_every_cached_kernel_of_the_engine_with_one_fingerprint() -> None:
    modules = [
        nest.counts,
        nest.fast_kernels,
        nest.moves,
        nest.rows,
        nest.score,
        nest.spatial,
        nest.systolic,
        nest.tiles,
        nest.union,
    ]
    kernels = kernel_cache.cached_kernels(modules)
    names = {k.__name__ for k in kernels}
    # the fast strategy's kernels compile in tiles' and moves' (tile_words, tiles_fit, cover)
    assert {"access_counts", "peeled_counts", "_score", "neighbours", "cover", "visits", "fits", "seeds"} <= names
    assert {"objective", "first_improving", "_best", "find", "add", "row_hash"} <= names
    fp = kernel_cache.fingerprint([Path(str(m.__file__)) for m in modules])
    assert nest.KERNEL_SOURCES == fp
    for k in kernels:
        stamp = k._cache._cache_file._source_stamp
        assert stamp[0] == kernel_cache._MARK and stamp[2] == fp
    before = [k._cache._cache_file._source_stamp for k in kernels]
    kernel_cache.bind(modules)  # binding again changes nothing
    assert [k._cache._cache_file._source_stamp for k in kernels] == before


def test_fingerprint_changes_with_any_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n")
    b.write_text("y = 1\n")
    fp = kernel_cache.fingerprint([a, b])
    b.write_text("y = 2\n")
    assert kernel_cache.fingerprint([a, b]) != fp
    assert kernel_cache.fingerprint([b, a]) != kernel_cache.fingerprint([a, b])
