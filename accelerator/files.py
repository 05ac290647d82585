"""Output files written atomically, and output folders checked before any work is done.

Every file picojoule writes for a user (results, reports, traces, calibrations, exports) goes
through :func:`write_bytes_atomic` / :func:`write_text_atomic`: the bytes go to a temporary
file in the destination's folder, are flushed to disk, and replace the destination with one
``os.replace``. A full disk, a killed process or a permission error leaves the previous file
as it was (or no file), never a truncated one, and becomes an :class:`OutputError` that names
the path and the cause.

It lives in ``accelerator`` because that package is the bottom layer: every other package
may import it (docs/architecture.md).
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from accelerator.errors import PicojouleError


class OutputError(PicojouleError):
    """An output file or folder cannot be written (not a folder, no permission, disk full)."""


class PackagedInputError(PicojouleError):
    """A committed input that ships with the package is missing (an incomplete install)."""


def _cause(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno == errno.EDQUOT:
        return "disk quota exceeded"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno == errno.ENOTDIR:
        return "a parent of it is a file, not a folder"
    if exc.errno == errno.ENAMETOOLONG:
        return "the file name is too long for the file system"
    return exc.strerror or str(exc)


def input_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as an input file, or ``None`` when it is a regular file.

    Never raises: a missing file, a name too long for the OS, a folder, a device or a named
    pipe (which would hang or never end) each come back as a short reason for a located error.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file" + _packaged_hint(path)
    except OSError as exc:
        return _cause(exc)
    except ValueError as exc:  # an embedded NUL byte
        return str(exc)
    if stat.S_ISDIR(mode):
        return "is a folder, expected a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a device, pipe or socket)"
    return None


def _packaged_hint(path: str | Path) -> str:
    """``; picojoule's committed copy is installed at PATH`` when ``path`` is a relative
    ``scenarios/...`` name (the README's examples, run outside a checkout) of a file the installed
    ``scenarios`` package holds; else ``""``. Only a hint: the file is never substituted."""
    parts = Path(path).parts
    if Path(path).is_absolute() or len(parts) < 2 or parts[0] != SCENARIOS_PACKAGE:
        return ""
    try:
        copy = packaged_scenario(Path(*parts[1:]))
        if not copy.is_file():
            return ""
    except (PackagedInputError, OSError, ValueError):
        return ""
    return f"; picojoule's committed copy is installed at {copy} (give that path to use it)"


def input_file_message(what: str, rel: str, folder: Path, problem: str) -> str:
    """``no such arch file 'x.yaml' (relative to DIR)``, or why the file named there is unreadable
    (:func:`input_problem`); a very long name is shortened."""
    shown = rel if len(rel) <= 200 else rel[:200] + "..."
    where = f"{shown!r} (relative to {folder})"
    if problem.startswith("no such file"):
        return f"no such {what} file {where}{problem.removeprefix('no such file')}"
    return f"{what} file {where}: {problem}"


def ensure_out_dir(path: str | Path) -> Path:
    """Create the output folder ``path`` (and parents) or raise a clean :class:`OutputError`.

    Call it before long work, so a bad ``--out`` fails at once instead of after the work.
    """
    p = Path(path)
    try:
        if p.exists() and not p.is_dir():
            raise OutputError(f"{p}: --out must be a folder, but a file of that name exists")
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{p}: cannot create the output folder: {_cause(exc)}") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise OutputError(f"{p}: cannot write into the output folder: permission denied")
    return p


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` all at once: the old file stays intact on any failure."""
    p = Path(path)
    try:
        if p.is_dir():
            raise OutputError(f"{p}: is a folder; expected a file path")
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except OSError as exc:
        raise OutputError(f"{p}: cannot write: {_cause(exc)}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; give the file the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, p)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OutputError(f"{p}: cannot write: {_cause(exc)}; the previous file, if any, is unchanged") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return p


def write_files_atomic(contents: Mapping[Path, bytes]) -> None:
    """Write several files as one: every temporary file is written and flushed first, and only
    then are they renamed into place (renames need no space). A failure while writing leaves
    every previous file intact, so a full disk can never leave a new file beside an old one."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, data in contents.items():
            tmp = Path(path).with_name(f".{Path(path).name}.staged")
            write_bytes_atomic(tmp, data)
            staged.append((tmp, Path(path)))
        for tmp, path in staged:
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise OutputError(f"{path}: cannot write: {_cause(exc)}") from None
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()


def write_text_atomic(path: str | Path, text: str) -> Path:
    """:func:`write_bytes_atomic` of ``text`` encoded as UTF-8."""
    return write_bytes_atomic(path, text.encode("utf-8"))


SCENARIOS_PACKAGE = "scenarios"
"""The package that ships the committed inputs (``scenarios/`` of the checkout)."""


def packaged_scenario(relative: str | Path = "") -> Path:
    """The committed input ``scenarios/<relative>``, from the installed package or the checkout.

    ``scenarios/`` is a package of the wheel, so a default input (the bench's designs, the
    validation specs, the thousandfold ladder) resolves the same way from ``pip install .``
    outside a checkout as from an editable install. Raises :class:`PackagedInputError` naming the path
    when the file is not there (an incomplete install), never returns a missing path.
    """
    spec = importlib.util.find_spec(SCENARIOS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PackagedInputError(
            f"the package {SCENARIOS_PACKAGE!r} with picojoule's committed inputs is not installed: "
            "reinstall picojoule (pip install .) or run from a checkout"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / relative
    if not path.exists():
        raise PackagedInputError(
            f"{SCENARIOS_PACKAGE}/{relative}: not in the installed package ({root}); the install is incomplete "
            "or the name is wrong: reinstall picojoule, or give the file's path"
        )
    return path
