"""The thousandfold explorer: a ladder of designs, each adding one technique, on real workloads.

- :mod:`~simulator.explain.spec`: the ladder file (``scenarios/thousandfold.yaml``) and its rungs
  (a design, a step count, or a pending technique).
- :mod:`~simulator.explain.ladder`: every rung evaluated, the factor each buys (they multiply to
  the total, checked), the cumulative ratio to the GPU point.
- :mod:`~simulator.explain.evidence`: what produced each factor (spec diff, trace statistics,
  energy components).
- :mod:`~simulator.explain.floor`: the physical floor (cited MAC and memory energies).
- :mod:`~simulator.explain.sensitivity`: which assumption, 2x off, moves the final ratio most.
- :mod:`~simulator.explain.quality`: measured quality of a rung's numerics.
- :mod:`~simulator.explain.report`, :mod:`~simulator.explain.api`, :mod:`~simulator.explain.cli`:
  tables, ``explain.json``, ``report.html``; ``picojoule explain``. Details: ``docs/thousandfold.md``.
"""

from __future__ import annotations

from simulator.explain.api import run_explain
from simulator.explain.floor import physical_floor
from simulator.explain.ladder import explain
from simulator.explain.sensitivity import sensitivity
from simulator.explain.spec import load_ladder

__all__ = ["explain", "load_ladder", "physical_floor", "run_explain", "sensitivity"]
