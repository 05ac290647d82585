"""Workload files that are well-formed JSON but mean nothing are refused, located (issue 14)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from models import workload as wl
from models.workload import Op, Workload, WorkloadError

ROOT = Path(__file__).resolve().parents[3]


def _doc() -> dict[str, Any]:
    ops = (
        Op(
            name="mm",
            kind="gemm",
            gemm=(2, 4, 8, 16),
            macs=2 * 4 * 8 * 16,
            flops=4 * 4 * 8 * 16,
            output_shape=(2, 4, 8),
        ),
        Op(name="silu", kind="elementwise", output_shape=(2, 4, 8), flops=64),
    )
    stats = {"act_zero_frac": ((0.5, None), (0.25, None)), "act_absmax": ((3.0, 1.0), (2.0, 1.0))}
    return wl.to_json(Workload(ops=ops, steps=2, stats=stats))


def _error(tmp_path: Path, doc: Any, name: str = "w.json") -> str:
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    with pytest.raises(WorkloadError) as info:
        wl.load(p)
    message = str(info.value)
    assert message.startswith(str(p)), message
    return message


def _with(path: str, value: Any) -> dict[str, Any]:
    doc = _doc()
    node: Any = doc
    *head, last = path.split(".")
    for step in head:
        node = node[int(step)] if isinstance(node, list) else node[step]
    node[int(last) if isinstance(node, list) else last] = value
    return doc


def test_the_sample_loads() -> None:
    assert wl.from_json(_doc()).macs_per_step == 1024


@pytest.mark.parametrize(
    "path, value, complaint",
    [
        ("ops", [], "ops: the workload has no ops"),
        ("steps", True, "steps: expected an integer in [1, 10,000] (MAX_STEPS), got True"),
        ("steps", 10**6, "steps: expected an integer in [1, 10,000] (MAX_STEPS), got 1000000"),
        ("steps", 2.0, "got 2.0"),
        ("ops.0.macs", -1, "ops.0 (mm).macs: expected an integer in [0, "),
        ("ops.0.macs", 1.5, "ops.0 (mm).macs: expected an integer"),
        ("ops.0.macs", True, "ops.0 (mm).macs: expected an integer"),
        ("ops.0.macs", 1000, "ops.0 (mm).macs: 1,000 does not match the shape: expected the GEMM view's"),
        ("ops.1.macs", 10, "ops.1 (silu).macs: 10 does not match the shape: expected 0 without a GEMM view"),
        ("ops.0.macs", 2**70, "MAX_COUNT"),
        ("ops.0.gemm", [2, True, 8, 16], "ops.0 (mm).gemm: expected 4 integers"),
        ("ops.0.gemm", [2**40, 2**40, 8, 16], "ops.0 (mm).gemm: expected 4 integers in [1, 2,147,483,647]"),
        ("ops.0.flops", 10, "ops.0 (mm).flops: expected at least 2·macs = 2,048"),
        ("ops.0.output_shape", [-1, 4], "ops.0 (mm).output_shape: expected a list of integers"),
        ("ops.0.output_shape", [2**31 - 1] * 3, "more than the limit of 1,000,000,000,000,000 (MAX_COUNT)"),
        ("ops.0.weight_is_param", 1, "ops.0 (mm).weight_is_param: expected true or false, got 1"),
        ("ops.0.params", [], "ops.0 (mm).params: expected an object"),
        ("ops.0.name", 5, "ops.0.name: expected a non-empty string"),
        (
            "stats.act_zero_frac.1.0",
            1.5,
            "stats.act_zero_frac.1.0: expected a finite number in [0.0, 1.0] or null, got 1.5",
        ),
        ("stats.act_zero_frac.0.0", -0.1, "stats.act_zero_frac.0.0: expected a finite number in [0.0, 1.0]"),
        ("stats.act_zero_frac.0.0", True, "stats.act_zero_frac.0.0: expected a number or null, got True"),
        ("stats.act_zero_frac.0.0", "0.5", "stats.act_zero_frac.0.0: expected a number or null, got '0.5'"),
        (
            "stats.act_absmax.1.1",
            -3.0,
            "stats.act_absmax.1.1: expected a finite number in [0.0, 3.4028234663852886e+38]",
        ),
        ("stats.act_zero_frac.0", "ab", "stats.act_zero_frac.0: expected 2 values (one per op), got 'ab'"),
        ("stats", [], "stats: expected a JSON object"),
        ("provenance", "abc", "provenance: expected a JSON object"),
        ("unsupported", [1], "unsupported.0: expected an object"),
        ("stepz", 3, "stepz: unknown field"),
    ],
)
def test_meaningless_values_are_refused_naming_op_field_and_value(
    tmp_path: Path, path: str, value: Any, complaint: str
) -> None:
    assert complaint in _error(tmp_path, _with(path, value))


def test_attention_macs_count_both_products(tmp_path: Path) -> None:
    qk, pv = (4, 16, 16, 8), [4, 16, 4, 16]  # A·V with a value dim of 4
    op = Op(
        name="sdpa",
        kind="attention",
        gemm=qk,
        macs=4 * 16 * 16 * 8 + 4 * 16 * 4 * 16,
        flops=10**6,
        params={"gemm2": pv},
    )
    assert Workload(ops=(op,)).macs_per_step == 12288
    with pytest.raises(WorkloadError, match=r"ops.0 \(sdpa\).macs: 8,192 does not match"):
        Workload(ops=(Op(name="sdpa", kind="attention", gemm=qk, macs=8192, flops=10**6, params={"gemm2": pv}),))
    # without params.gemm2 (layer lists), A·V has QKᵀ's size
    assert Workload(ops=(Op(name="a", kind="attention", gemm=qk, macs=2 * 8192, flops=10**6),)).macs_per_step == 16384


def test_nan_and_infinity_literals_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "nan.json"
    p.write_text(json.dumps(_doc()).replace("0.25", "NaN"))
    with pytest.raises(WorkloadError, match="NaN is not a number the format allows"):
        wl.load(p)
    with pytest.raises(WorkloadError, match=r"stats.act_absmax.0.0: expected a finite number"):
        Workload(ops=wl.from_json(_doc()).ops, steps=2, stats={"act_absmax": ((float("inf"), 1.0), (1.0, 1.0))})


def test_macs_per_step_cannot_overflow_the_simulator() -> None:
    # each op is within MAX_COUNT; together they exceed MAX_MACS_PER_STEP (so steps x MACs < 2**63)
    macs = 10**6 * 10**6 * 60
    ops = tuple(Op(name=f"g{i}", kind="gemm", gemm=(1, 10**6, 10**6, 60), macs=macs, flops=2 * macs) for i in range(2))
    assert Workload(ops=ops[:1]).macs_per_step == 6 * 10**13
    with pytest.raises(WorkloadError, match=r"ops: 120,000,000,000,000 MACs per step is more than the limit of"):
        Workload(ops=ops)


def test_a_gzip_bomb_stops_at_the_stated_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wl.schema, "MAX_DECOMPRESSED_BYTES", 1 << 20)
    p = tmp_path / "bomb.json.gz"
    p.write_bytes(gzip.compress(b"[" + b" " * (8 << 20) + b"]"))  # 8 MiB of JSON in a few KiB
    assert p.stat().st_size < 64 * 1024
    with pytest.raises(WorkloadError, match=r"more than 1,048,576 bytes of JSON \(MAX_DECOMPRESSED_BYTES\)"):
        wl.load(p)
    plain = tmp_path / "big.json"
    plain.write_bytes(b" " * (2 << 20))
    with pytest.raises(WorkloadError, match="MAX_DECOMPRESSED_BYTES"):
        wl.load(plain)


def test_corrupt_deflate_data_and_deep_nesting_are_workload_errors(tmp_path: Path) -> None:
    raw = bytearray(wl.dumps(wl.from_json(_doc())))
    raw[20:40] = b"\xff" * 20
    p = tmp_path / "c.json.gz"
    p.write_bytes(bytes(raw))
    with pytest.raises(WorkloadError, match="corrupt or truncated"):
        wl.load(p)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(WorkloadError, match="deep.json"):
        wl.load(deep)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"format": "\xe9"}')
    with pytest.raises(WorkloadError, match="latin.json"):
        wl.load(latin)


def test_committed_traces_still_load_with_the_same_values() -> None:
    traces = sorted((ROOT / "scenarios" / "workloads").glob("*.workload.json.gz"))
    assert len(traces) >= 6
    for path in traces:
        w = wl.load(path)
        assert w.ops and w.steps >= 1
        assert wl.dumps(w) == path.read_bytes(), path  # nothing was coerced on the way in


def _set_kernel(doc: dict[str, Any]) -> str:
    doc["ops"][0]["params"] = {"kernel": [-3, 3]}
    return "ops.0 (mm).params.kernel.0"


def _set_kv_len(doc: dict[str, Any]) -> str:
    doc["ops"][0]["params"] = {"kv_len": 1e400}
    return "ops.0 (mm).params.kv_len"


def _set_batch(doc: dict[str, Any]) -> str:
    doc["provenance"] = {"batch": -1}
    return "provenance.batch"


@pytest.mark.parametrize("mutate", [_set_kernel, _set_kv_len, _set_batch])
def test_negative_or_infinite_quantities_in_params_and_provenance_are_refused(mutate: Any) -> None:
    doc = _doc()
    where = mutate(doc)
    with pytest.raises(WorkloadError, match="expected a finite number in") as info:
        wl.from_json(doc, "t.json")
    assert where in str(info.value)
