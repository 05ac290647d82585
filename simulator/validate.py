"""``picojoule validate``: recognise a YAML input by its fields and validate it fully."""

from __future__ import annotations

from pathlib import Path

from accelerator.gpu import load_gpu
from accelerator.spec import arch_from_data
from accelerator.yamlpos import load_yaml
from models.layers import load_layers_yaml, load_scalesim_csv
from simulator.scenario import load_designs, load_scenario
from simulator.sweep.spec import load_sweep


def validate_file(path: Path) -> str:
    """Validate ``path``; returns what kind of file it was. Raises SpecError on any problem."""
    if path.suffix.lower() == ".csv":
        load_scalesim_csv(path)
        return "SCALE-Sim topology"
    data, positions = load_yaml(path)
    if not isinstance(data, dict):
        raise positions.error("", f"expected a YAML mapping, got {type(data).__name__}")
    if "compute" in data and "memory" in data:
        arch_from_data(data, positions)
        return "arch"
    if "designs" in data and "workload" in data:
        load_designs(load_scenario(path))
        return "scenario"
    if "layers" in data:
        load_layers_yaml(path)
        return "layer list"
    if "axes" in data or "base" in data:
        load_sweep(path)
        return "sweep"
    if "peak_tflops" in data or "hbm_bandwidth_gb_per_s" in data:
        load_gpu(path)
        return "gpu"
    raise positions.error(
        "",
        "cannot tell what this file is: an arch has 'compute' and 'memory', a scenario "
        "'workload' and 'designs', a layer list 'layers', a sweep 'base' and 'axes'",
    )
