"""How many mapper restarts the Eyeriss comparison needs (docs/validation.md, "Search restarts").

``python -m simulator.validation.restarts [N]`` maps AlexNet CONV1–5 on the coded Eyeriss design
(``eyeriss-rlc.yaml``) with ``mapping.restarts: N`` (default 512) and prints, per layer, the
mapper's objective (EDP of the dense nest) of the best of the first n searches over the best of
all N, for n = 1, 2, 4, …, N, and which search found the best. Every mapping is searched afresh
(the process's caches are cleared first).
"""

from __future__ import annotations

import argparse
import sys

from accelerator.spec import MAX_MAPPER_RESTARTS, ArchSpec, load_arch
from simulator.cost.nest import restarts
from simulator.cost.nest.search import clear_caches
from simulator.evaluation import evaluate
from simulator.validation.common import NEST_DATAFLOW, peer_path, read_json, spec_path, standalone, with_nest
from simulator.validation.eyeriss import eyeriss_workload, rlc_spec


def study(n: int) -> list[tuple[str, list[float]]]:
    """Per layer, the objective of each of ``n`` searches (the first is the spec's own search)."""
    base = load_arch(spec_path("eyeriss.yaml"))
    data = rlc_spec(with_nest(base, NEST_DATAFLOW.get(base.name))).model_dump()
    data["mapping"]["restarts"] = n
    workload = standalone(eyeriss_workload(read_json(peer_path("eyeriss/published.json"))))
    clear_caches()
    restarts.LOG = []
    try:
        evaluate(workload, ArchSpec.model_validate(data))
        log = restarts.LOG
    finally:
        restarts.LOG = None
    return [(name, costs) for name, _, costs in log]


def running_minima(costs: list[float]) -> list[tuple[int, float]]:
    """``(n, best of the first n / best of all)`` for n = 1, 2, 4, … up to ``len(costs)``."""
    best = min(costs)
    out, n = [], 1
    while n <= len(costs):
        out.append((n, min(costs[:n]) / best))
        n *= 2
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m simulator.validation.restarts", description=__doc__)
    ap.add_argument("n", nargs="?", type=int, default=512, help="searches per layer (default 512)")
    args = ap.parse_args(argv)
    if not 1 <= args.n <= MAX_MAPPER_RESTARTS:
        print(f"error: n = {args.n}: allowed 1 to {MAX_MAPPER_RESTARTS} (mapping.restarts)", file=sys.stderr)
        return 2
    for name, costs in study(args.n):
        first = costs.index(min(costs))
        cells = "  ".join(f"n={k}: {r:.3f}" for k, r in running_minima(costs))
        print(f"{name}  best found by search {first}  {cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
