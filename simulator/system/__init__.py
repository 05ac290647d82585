"""Multi-core and chiplet designs (``docs/multicore.md``).

- ``graph``: producer -> consumer edges of a workload's ops (tensor ids, else a chain)
- ``noc``: where the instances sit, routes over the on-chip network and die-to-die links, the ledger
- ``costs``: which core runs each op, and its cost there (the single-core model, unchanged)
- ``fusion``: layer fusion (runs of consecutive ops kept off DRAM, tiled)
- ``schedule``: a deterministic list scheduler with contention on links and shared DRAM
- ``evaluate``: :func:`evaluate_system`, the phases and the fusion-depth search
- ``result``: :class:`SystemResult`, its JSON and its row among the designs
"""

from simulator.system.evaluate import evaluate_system
from simulator.system.result import SystemResult

__all__ = ["SystemResult", "evaluate_system"]
