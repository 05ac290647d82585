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
import os
import tempfile
from pathlib import Path

from accelerator.errors import PicojouleError


class OutputError(PicojouleError):
    """An output file or folder cannot be written (not a folder, no permission, disk full)."""


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
    return exc.strerror or str(exc)


def ensure_out_dir(path: str | Path) -> Path:
    """Create the output folder ``path`` (and parents) or raise a clean :class:`OutputError`.

    Call it before long work, so a bad ``--out`` fails at once instead of after the work.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{p}: --out must be a folder, but a file of that name exists")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{p}: cannot create the output folder: {_cause(exc)}") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise OutputError(f"{p}: cannot write into the output folder: permission denied")
    return p


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` all at once: the old file stays intact on any failure."""
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"{p}: is a folder; expected a file path")
    try:
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


def write_text_atomic(path: str | Path, text: str) -> Path:
    """:func:`write_bytes_atomic` of ``text`` encoded as UTF-8."""
    return write_bytes_atomic(path, text.encode("utf-8"))
