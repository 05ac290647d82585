"""The one exception hierarchy of picojoule.

Every error a user can cause (a malformed spec, a corrupt trace, an impossible mapping) is a
subclass of :class:`PicojouleError`; the CLI turns it into one paragraph and exit code 2.
``assert`` is kept for internal invariants only.

This module lives in ``accelerator`` because that package is the bottom layer: it imports
nothing of ours, and every other package may import it.
"""

from __future__ import annotations


class PicojouleError(Exception):
    """Base of every error caused by user input."""


class SpecError(PicojouleError):
    """A YAML input (arch, scenario, sweep, layer list) is malformed.

    The message reads ``file:line dotted.field: what is wrong, got VALUE; allowed: ...``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.detail = message
        where = ""
        if file is not None:
            where = f"{file}:{line}" if line is not None else file
        prefix = " ".join(p for p in (where, field) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class SimulationError(PicojouleError):
    """The simulator cannot evaluate a workload on an architecture (e.g. nothing fits)."""


class TraceError(PicojouleError):
    """A model cannot be traced (unknown model name, missing weights, unsupported input)."""
