"""Physical-plausibility bounds (issue 14): every number a user writes in an arch or a GPU spec
has a declared bound, a value outside it is a located error naming the bound, and no committed
input comes near one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from accelerator.errors import SpecError
from accelerator.gpu import GPU_BOUNDS, GPU_DIR, load_gpu, parse_gpu
from accelerator.spec import BOUND_REASONS, ArchSpec, load_arch, parse_arch
from accelerator.spec_doc import _bounds, _models, _type_name

ROOT = Path(__file__).resolve().parents[3]
EDGE = ROOT / "scenarios" / "arch" / "edge-os-int8.yaml"
#: Numeric fields checked against a list of allowed values instead of a range.
_ONE_OF = {("", "technology_nm"), ("compute.sparsity", "block_skip")}


def test_every_numeric_arch_field_has_an_upper_bound() -> None:
    """The class, not instances: a new numeric field without ``le``/``lt`` fails here."""
    seen: list[tuple[str, type[BaseModel]]] = []
    _models(ArchSpec, "", seen)
    unbounded = []
    for path, cls in seen:
        for name, f in cls.model_fields.items():
            shown = _type_name(f.annotation) + _bounds(f.metadata)
            numeric = re.search(r"\b(int|float)\b", shown.split("Literal")[0]) is not None
            if numeric and "≤" not in shown and "<" not in shown and (path, name) not in _ONE_OF:
                unbounded.append(f"{path}.{name}: {shown}")
    assert not unbounded


def test_every_bound_has_a_reason() -> None:
    import accelerator.spec_base as base

    names = {n for n in dir(base) if re.fullmatch(r"(MAX|MIN)_[A-Z_]+", n)}
    assert names == set(BOUND_REASONS)
    assert all(len(why) > 10 for why in BOUND_REASONS.values())


def _edited(path: Path, edit: str, value: object) -> str:
    doc = yaml.safe_load(path.read_text())
    node = doc
    *head, last = edit.split(".")
    for key in head:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[int(last) if isinstance(node, list) else last] = value
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("clock_ghz", 1e-300, "clock_ghz: must be at least 0.001"),
        ("clock_ghz", 5e-324, "clock_ghz: must be at least 0.001"),
        ("static_power_mw", 1e30, "static_power_mw: must be at most 2000000"),
        ("static_power_mw", float("inf"), "static_power_mw: expected a finite number"),
        ("compute.mac_energy_pj", {"int8": 1e4}, "compute.mac_energy_pj.int8: must be at most 1000"),
        ("memory.levels.1.bandwidth_bytes_per_cycle", 2.0**63, "bandwidth_bytes_per_cycle: must be at most"),
        ("memory.levels.1.read_energy_pj", 1e308, "memory.levels.1.read_energy_pj: must be at most 1000000"),
        ("memory.levels.1.leakage_mw", float("inf"), "memory.levels.1.leakage_mw: expected a finite number"),
        ("memory.dram.bandwidth_gb_per_s", float("inf"), "memory.dram.bandwidth_gb_per_s: must be at most"),
        ("memory.dram.bandwidth_gb_per_s", 1e-9, "memory.dram.bandwidth_gb_per_s: must be at least 0.001"),
        ("memory.dram.energy_pj_per_bit", 1e30, "memory.dram.energy_pj_per_bit: must be at most 1000"),
        ("memory.dram.latency_ns", 1e12, "memory.dram.latency_ns: must be at most 1000000"),
        ("numerics", {"zero_skip": {"act_threshold": 1e30}}, "numerics.zero_skip.act_threshold: must be at most 65504"),
        ("numerics", {"temporal_delta": {"threshold": float("inf")}}, "numerics.temporal_delta.threshold"),
        ("numerics", {"weights": {"block_size": True}}, "numerics.weights.block_size: expected an integer"),
        ("numerics", {"activations": {"percentile": "99"}}, "numerics.activations.percentile: expected a number"),
    ],
)
def test_an_implausible_arch_value_is_a_located_error(field: str, value: object, message: str) -> None:
    text = _edited(EDGE, field, value)
    with pytest.raises(SpecError) as exc:
        parse_arch(text, "edge.yaml")
    assert re.match(r"edge\.yaml:\d+ ", str(exc.value)), str(exc.value)
    assert message in str(exc.value)


H100 = GPU_DIR / "h100-sxm.yaml"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tdp_w", 609649, "tdp_w.value: expected a value in [1, 2000]"),
        ("peak_tflops_dense.int8", 80299.0, "peak_tflops_dense.int8.value: expected a value in [0.01, 20000]"),
        ("boost_clock_ghz", 1e-300, "boost_clock_ghz.value: expected a value in [0.001, 10]"),
        ("l2_bytes", 2**63, "l2_bytes.value: expected a value in [1, 1.71799e+10]"),
        ("sm_count", 100_000, "sm_count.value: expected a value in [1, 4096]"),
        ("sparse_factor", 16.0, "sparse_factor.value: expected a value in [1, 4]"),
        ("hbm_bandwidth_gb_per_s", 1e9, "hbm_bandwidth_gb_per_s.value"),
        ("base_clock_ghz", 9.0, "base_clock_ghz.value: must be at most boost_clock_ghz"),
        ("idle_w", 700.0, "idle_w.value: must be below tdp_w"),
    ],
)
def test_an_implausible_gpu_value_is_a_located_error(field: str, value: object, message: str) -> None:
    text = _edited(H100, f"{field}.value", value)
    with pytest.raises(SpecError) as exc:
        parse_gpu(text, "gpu.yaml")
    assert re.match(r"gpu\.yaml:\d+ ", str(exc.value)), str(exc.value)
    assert message in str(exc.value)


def test_the_gpu_bounds_name_why() -> None:
    assert all(low < high and len(why) > 10 for low, high, why in GPU_BOUNDS.values())


def test_committed_inputs_are_well_inside_the_bounds() -> None:
    """No real design or GPU comes near a bound (the bounds refuse typos, not designs)."""
    for path in sorted((ROOT / "scenarios" / "arch").glob("*.yaml")):
        load_arch(path)
    for path in sorted(GPU_DIR.glob("*.yaml")):
        gpu = load_gpu(path)
        assert gpu.tdp_w.value <= GPU_BOUNDS["tdp_w"][1] / 2
        assert max(c.value for c in gpu.peak_tflops_dense.values()) <= GPU_BOUNDS["peak_tflops_dense"][1] / 4
