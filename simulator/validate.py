"""``picojoule validate``: recognise a YAML input by its fields and validate it fully."""

from __future__ import annotations

import importlib
from pathlib import Path

from accelerator.errors import SpecError
from accelerator.spec import arch_from_data
from accelerator.yamlpos import load_yaml


def validate_file(path: Path) -> str:
    """Validate ``path``; returns what kind of file it was. Raises SpecError on any problem."""
    if path.suffix.lower() == ".csv":
        from models.layers import load_scalesim_csv

        load_scalesim_csv(path)
        return "SCALE-Sim topology"
    data, positions = load_yaml(path)
    if not isinstance(data, dict):
        raise positions.error("", f"expected a YAML mapping, got {type(data).__name__}")
    if "compute" in data and "memory" in data:
        arch_from_data(data, positions)
        return "arch"
    if "designs" in data and "workload" in data:
        from simulator.scenario import load_designs, load_scenario

        load_designs(load_scenario(path))
        return "scenario"
    if "layers" in data:
        from models.layers import load_layers_yaml

        load_layers_yaml(path)
        return "layer list"
    if "axes" in data or "base" in data:
        try:
            sweep = importlib.import_module("simulator.sweep.spec")
        except ModuleNotFoundError:
            raise SpecError("sweep files are not supported by this version", file=str(path)) from None
        sweep.load_sweep(path)
        return "sweep"
    if "peak_tflops" in data or "hbm_bandwidth_gb_per_s" in data:
        from accelerator.gpu import load_gpu

        load_gpu(path)
        return "gpu"
    raise positions.error(
        "", "cannot tell what this file is: an arch has 'compute' and 'memory', a scenario "
        "'workload' and 'designs', a layer list 'layers', a sweep 'base' and 'axes'"
    )
