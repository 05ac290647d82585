"""``picojoule validate``: recognise an input by its name or fields and validate it fully.

A YAML document's schema errors are all reported, each located (``file:line dotted.field``);
the checks that follow the schema (files that must exist, expressions, limits) stop at the
first problem, since each builds on what came before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from accelerator.errors import SpecError
from accelerator.gpu import load_gpu
from accelerator.spec import ArchSpec, arch_from_data, spec_error_from_validation
from accelerator.system import load_system
from accelerator.yamlpos import Positions, load_yaml
from models.layers import LayerList, load_layers_yaml, load_scalesim_csv
from simulator.explain.spec import LadderSpec, load_ladder
from simulator.gpu.calibration_file import load_calibration
from simulator.scenario import ScenarioSpec, load_designs, load_gpus, load_scenario, load_systems, load_workload
from simulator.sweep.spec import SweepFile, load_sweep

_WORKLOAD_SUFFIXES = (".json", ".json.gz", ".gz")


class SpecErrors(SpecError):
    """Several independent problems of one file; located at the first, the message lists all."""

    def __init__(self, errors: list[SpecError]) -> None:
        first = errors[0]
        super().__init__(first.detail, file=first.file, line=first.line, field=first.field)
        self.errors = errors
        self.args = ("\n".join(str(e) for e in errors),)

    def __str__(self) -> str:
        return str(self.args[0])


def schema_errors(cls: type[BaseModel], data: Any, positions: Positions) -> list[SpecError]:
    """Every schema error of ``data`` as ``cls``, each located (empty when it validates)."""
    try:
        cls.model_validate(data)
    except ValidationError as exc:
        out = []
        for err in exc.errors(include_url=False):
            detail: dict[str, Any] = {"type": err["type"], "loc": err["loc"], "input": err["input"]}
            if "ctx" in err:
                detail["ctx"] = err["ctx"]
            try:
                single = ValidationError.from_exception_data(exc.title, [detail])  # type: ignore[list-item]
            except (TypeError, KeyError, ValueError):  # an error type pydantic cannot rebuild
                out.append(positions.error(".".join(map(str, err["loc"])), err["msg"]))
                continue
            out.append(spec_error_from_validation(single, positions))
        return out
    return []


def _schema_check(cls: type[BaseModel], data: Any, positions: Positions) -> None:
    errors = schema_errors(cls, data, positions)
    if len(errors) > 1:
        raise SpecErrors(errors)


def validate_file(path: Path) -> str:
    """Validate ``path``; returns what kind of file it was. Raises SpecError on any problem."""
    name = path.name.lower()
    if name.endswith(".csv"):
        load_scalesim_csv(path)
        return "SCALE-Sim topology"
    if name.endswith(_WORKLOAD_SUFFIXES):
        load_workload(path)
        return "workload"
    data, positions = load_yaml(path)
    if not isinstance(data, dict):
        raise positions.error("", f"expected a YAML mapping, got {type(data).__name__}")
    if "compute" in data and "memory" in data:
        _schema_check(ArchSpec, data, positions)
        arch_from_data(data, positions)
        return "arch"
    if "designs" in data and "workload" in data:
        _schema_check(ScenarioSpec, data, positions)
        scenario = load_scenario(path)
        load_designs(scenario)
        load_systems(scenario)
        load_gpus(scenario)
        if scenario.spec.gpu_calibration is not None:
            load_calibration(scenario.resolve(scenario.spec.gpu_calibration))
        for rel in (scenario.spec.workload, scenario.spec.decoder):
            if rel is not None:
                load_workload(scenario.resolve(rel))
        return "scenario"
    if "layers" in data:
        _schema_check(LayerList, data, positions)
        load_layers_yaml(path)
        return "layer list"
    if "cores" in data:
        load_system(path)
        return "system"
    if "axes" in data or "base" in data or "system" in data:
        _schema_check(SweepFile, data, positions)
        load_sweep(path)
        return "sweep"
    if "peak_tflops_dense" in data or "hbm_bandwidth_gb_per_s" in data:
        load_gpu(path)
        return "gpu"
    if "rungs" in data:
        _validate_ladder(path, data, positions)
        return "ladder"
    raise positions.error(
        "",
        "cannot tell what this file is: an arch has 'compute' and 'memory', a scenario "
        "'workload' and 'designs', a layer list 'layers', a system 'cores', a sweep 'base' or 'system' and 'axes', "
        "a GPU spec 'peak_tflops_dense', a ladder (picojoule explain) 'rungs'",
    )


def _validate_ladder(path: Path, data: Any, positions: Positions) -> None:
    """A ladder (``picojoule explain``, docs/thousandfold.md) as ``explain`` reads it: its files,
    archs and steps sweeps (:func:`load_ladder`), then its GPU and calibration, as
    :func:`simulator.explain.ladder` loads them."""
    _schema_check(LadderSpec, data, positions)
    ladder = load_ladder(path)
    g = ladder.spec.gpu
    try:
        load_gpu(ladder.resolve(g) if g.endswith((".yaml", ".yml")) or "/" in g else g)
    except SpecError as exc:
        if exc.file is not None:  # the GPU spec file's own error, located in it
            raise
        raise positions.error("gpu", exc.detail) from None
    if ladder.spec.gpu_calibration is not None:
        load_calibration(ladder.resolve(ladder.spec.gpu_calibration))
