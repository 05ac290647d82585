"""Noise of the libraries under ``gpu measure`` that says nothing to its user, filtered precisely.

Two sources, each dropped line by line, never a whole stream, so that their errors still show:

- torch's profiler (its Kineto library) prints ``USDT:<time> <pid>:<tid> ...] profiler_start``
  and ``... profiler_stop`` on the process's stderr (C++, file descriptor 2) at every profiled
  step; :func:`without_profiler_markers` holds fd 2's output of a block back and writes it out
  again without those two lines. (``KINETO_LOG_LEVEL`` cannot do it: the level that hides them
  hides Kineto's errors too.)
- diffusers warns "There are modules in X that should be kept in float32: []. Casting directly
  with `to()` ..." whenever a model is cast with ``.to(dtype)``, even when the list is empty
  (no module to keep, as in the random-init models built here); :func:`without_empty_fp32_warning`
  drops that warning when the list is empty, and keeps it when it names modules.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator

#: A Kineto marker line: ``USDT:2026-12-05 18:18:52 28802:28802 SyncActivityProfilerHandler.cpp:52] profiler_start``.
PROFILER_MARKER = re.compile(rb"^USDT:[^\n]*\] profiler_(start|stop)\s*$")
#: The diffusers logger that warns on ``.to(dtype)`` (``diffusers/models/modeling_utils.py``).
DIFFUSERS_MODELING_LOGGER = "diffusers.models.modeling_utils"
EMPTY_FP32_WARNING = "that should be kept in float32: []."


def keep_line(line: bytes) -> bool:
    """Whether a line of stderr stays: all but Kineto's profiler start and stop markers."""
    return PROFILER_MARKER.match(line) is None


@contextlib.contextmanager
def without_profiler_markers() -> Iterator[None]:
    """Run the block with fd 2 held back in a temporary file, then write it to fd 2 without
    :data:`PROFILER_MARKER` lines (in order, after the block, also when it raises). Python's
    ``sys.stderr`` is flushed on both sides so nothing written before or inside is lost."""
    with tempfile.TemporaryFile() as held:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(held.fileno(), 2)
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            _write_all(b"".join(line for line in held if keep_line(line)))


def _write_all(data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(2, view) :]


class _EmptyFp32Filter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return EMPTY_FP32_WARNING not in record.getMessage()


@contextlib.contextmanager
def without_empty_fp32_warning() -> Iterator[None]:
    """Drop diffusers' "should be kept in float32: []" warning (an empty list) inside the block."""
    logger = logging.getLogger(DIFFUSERS_MODELING_LOGGER)
    flt = _EmptyFp32Filter()
    logger.addFilter(flt)
    try:
        yield
    finally:
        logger.removeFilter(flt)
