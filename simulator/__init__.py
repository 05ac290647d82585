"""picojoule's simulator: latency and energy of a diffusion workload on accelerator designs.

    from simulator import evaluate, load_arch, load_workload

    workload = load_workload("scenarios/workloads/ddpm-cifar10.workload.json.gz")
    arch = load_arch("scenarios/arch/edge-os-int8.yaml")
    result = evaluate(workload, arch)  # a DesignResult
    print(result.energy_j_per_image, result.latency_s_per_image)  # J, s

To evaluate many designs on one workload, convert it once with ``prepare`` and pass the table
to ``evaluate_prepared``. ``load_scenario`` reads a scenario YAML (what ``picojoule run``
evaluates). Everything else stays importable from its module but is not advertised here.
"""

from __future__ import annotations

from accelerator.spec import load_arch
from simulator.evaluation import evaluate, evaluate_prepared
from simulator.optable import prepare
from simulator.result import DesignResult
from simulator.scenario import load_scenario, load_workload

__all__ = [
    "DesignResult",
    "evaluate",
    "evaluate_prepared",
    "load_arch",
    "load_scenario",
    "load_workload",
    "prepare",
]
