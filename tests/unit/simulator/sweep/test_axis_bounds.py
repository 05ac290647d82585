"""Sweep values the fuzz suite found accepted (docs/reliability.md): an axis value its field's
parent refuses whatever the other axes are, a negative or 64-bit seed, an astronomical factor."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_support import write_sweep

from accelerator.errors import SpecError
from simulator.sweep.spec import MAX_SEED, load_sweep
from simulator.validate import validate_file

SKIP_AXES = "axes:\n  compute.rows: [8, 16]\n  compute.sparsity.block_skip: {values}\n"


def test_a_block_skip_no_trace_records_is_refused_at_its_value(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_sweep(write_sweep(tmp_path, SKIP_AXES.format(values="[[1, 8], [1, 9223372036854775808]]")))
    assert info.value.line == 6 and info.value.field == "axes.compute.sparsity.block_skip.1"
    assert "value [1, 9223372036854775808] is not allowed for compute.sparsity.block_skip" in str(info.value)
    assert "the granularities traces record" in str(info.value)
    ok = load_sweep(write_sweep(tmp_path, SKIP_AXES.format(values="[null, [1, 8], [8, 8]]"), name="ok.yaml"))
    assert ok.axes[1].values == (None, [1, 8], [8, 8])


def test_a_value_another_axis_makes_valid_is_kept(tmp_path: Path) -> None:
    """compact_activations needs block_skip: true is invalid at the base (no block_skip) and with
    block_skip at its first value (null), valid at its last ([1, 8]): the sweep keeps it."""
    axes = (
        "axes:\n  compute.sparsity.compact_activations: [false, true]\n  compute.sparsity.block_skip: [null, [1, 8]]\n"
    )
    sweep = load_sweep(write_sweep(tmp_path, axes))
    assert sweep.axes[0].values == (False, True)


@pytest.mark.parametrize(
    "strategy, complaint",
    [
        ("{kind: random, samples: 4, seed: -1}", r"sweep.yaml:12 strategy.random.seed: must be at least 0 .*got -1$"),
        (
            f"{{kind: nsga2, trials: 4, seed: {MAX_SEED + 1}}}",
            r"strategy.nsga2.seed: must be at most 4294967295 .*got 4294967296$",
        ),
    ],
)
def test_seeds_are_32_bit_and_not_negative(tmp_path: Path, strategy: str, complaint: str) -> None:
    with pytest.raises(SpecError, match=complaint):
        load_sweep(write_sweep(tmp_path, extra=f"strategy: {strategy}\n"))
    ok = f"strategy: {{kind: random, samples: 4, seed: {MAX_SEED}}}\n"
    assert load_sweep(write_sweep(tmp_path, extra=ok, name="ok.yaml")).spec.strategy.seed == MAX_SEED  # type: ignore[union-attr]


@pytest.mark.parametrize("factor", ["9007199254740993", "1.0e+18"])
def test_an_astronomical_log_factor_is_refused(tmp_path: Path, factor: str) -> None:
    axes = f"axes:\n  memory.levels.glb.size_bytes: {{log_range: {{start: 65536, stop: 131072, factor: {factor}}}}}\n"
    with pytest.raises(SpecError) as info:  # validate lists every problem (the other: not a list of values)
        validate_file(write_sweep(tmp_path, axes))
    where = "sweep.yaml:5 axes.memory.levels.glb.size_bytes.log_range.factor"
    assert f"{where}: must be at most 1000000 " in str(info.value)
