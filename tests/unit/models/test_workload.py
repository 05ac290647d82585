"""Workload format: round trip, determinism, version and corruption errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from models import workload as wl
from models.workload import Op, Workload, WorkloadError


def _sample() -> Workload:
    ops = (
        Op(
            name="aten.convolution.default",
            kind="conv",
            module="conv_in",
            input_shapes=((1, 3, 32, 32), (128, 3, 3, 3)),
            output_shape=(1, 128, 32, 32),
            gemm=(1, 1024, 128, 27),
            macs=1024 * 128 * 27,
            flops=2 * 1024 * 128 * 27,
            act_bytes=12288,
            weight_bytes=13824,
            out_bytes=524288,
            weight_is_param=True,
            params={"stride": [1, 1], "padding": [1, 1], "groups": 1},
        ),
        Op(
            name="aten.silu.default",
            kind="elementwise",
            output_shape=(1, 128, 32, 32),
            flops=131072,
            act_bytes=524288,
            out_bytes=524288,
        ),
    )
    stats = {"act_zero_frac": ((0.0, 0.25), (0.5, 0.125)), "delta_int8_zero_frac": ((None, None), (0.75, 0.5))}
    return Workload(ops=ops, steps=2, provenance={"model": "unit", "weights": "random-init"}, stats=stats)


def test_round_trip_and_bytes_are_deterministic(tmp_path: Path) -> None:
    w = _sample()
    p = wl.save(w, tmp_path / "a.workload.json.gz")
    back = wl.load(p)
    assert back == w
    assert wl.dumps(back) == p.read_bytes() == wl.dumps(w)
    assert back.macs_per_step == 1024 * 128 * 27
    assert back.stat("delta_int8_zero_frac", 1, 0) == 0.75
    assert back.stat("delta_int8_zero_frac", 0, 0) is None
    assert back.stat("weight_zero_frac", 0, 0) is None


def test_wrong_version_is_rejected(tmp_path: Path) -> None:
    doc = wl.to_json(_sample())
    doc["version"] = 99
    p = tmp_path / "v.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(WorkloadError, match="version 99"):
        wl.load(p)


def test_corrupt_and_truncated_files_are_rejected(tmp_path: Path) -> None:
    raw = wl.dumps(_sample())
    p = tmp_path / "t.json.gz"
    p.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(WorkloadError, match="corrupt or truncated"):
        wl.load(p)
    p.write_bytes(gzip.compress(b'{"format": "something-else"}'))
    with pytest.raises(WorkloadError, match="format"):
        wl.load(p)
    with pytest.raises(WorkloadError, match="no such workload file"):
        wl.load(tmp_path / "missing.json.gz")


def test_inconsistent_objects_are_rejected() -> None:
    with pytest.raises(WorkloadError, match=r"ops.0 \(x\).kind"):
        Workload(ops=(Op(name="x", kind="bogus"),))
    with pytest.raises(WorkloadError, match="stats.act_zero_frac"):
        Workload(ops=(Op(name="x", kind="gemm"),), steps=2, stats={"act_zero_frac": ((0.0,),)})
    with pytest.raises(WorkloadError, match=r"ops.0 \(x\).gemm"):
        Workload(ops=(Op(name="x", kind="gemm", gemm=(1, 0, 2, 3)),))


def test_block_statistics_at_array_shapes_are_optional_and_names_stay_strict(tmp_path: Path) -> None:
    # a version-1 file with only the original block shapes still loads (old traces)
    old = {"act_block_zero_frac_1x16": ((0.5, None), (0.25, None))}
    w = Workload(ops=_sample().ops, steps=2, stats=old)
    back = wl.load(wl.save(w, tmp_path / "old.workload.json.gz"))
    assert back.stat("act_block_zero_frac_1x16", 1, 0) == 0.25
    assert back.stat("act_block_zero_frac_128x16", 1, 0) is None
    # the array-unit shapes are known fields, named by the documented pattern
    assert wl.block_stat_name(128, 16) in wl.STAT_FIELDS
    assert {wl.block_stat_name(r, c) for r, c in wl.ACT_BLOCK_SHAPES} <= set(wl.STAT_FIELDS)
    new = {wl.block_stat_name(32, 1): ((0.5, None), (0.25, None))}
    assert Workload(ops=_sample().ops, steps=2, stats=new).stat("act_block_zero_frac_32x1", 0, 0) == 0.5
    # a shape the format does not know is an error, as any unknown statistic
    with pytest.raises(WorkloadError, match="stats.act_block_zero_frac_3x3: unknown statistic"):
        Workload(ops=_sample().ops, steps=2, stats={"act_block_zero_frac_3x3": ((0.5, None), (0.25, None))})
