"""Where ``picojoule bench`` finds its designs and traces.

By default the committed ``scenarios/arch/*.yaml`` and ``scenarios/workloads/*.workload.json.gz``,
resolved by :func:`accelerator.files.packaged_scenario`: ``scenarios/`` is a package of the wheel,
so ``pip install . && picojoule bench`` reads the same files outside a checkout as an editable
install reads in one. ``picojoule bench --scenarios DIR`` benches another folder of the same
layout instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from accelerator.errors import SpecError
from accelerator.files import packaged_scenario

WORKLOAD_GLOB = "*.workload.json.gz"
SWEEP_BASE_ARCH = "edge-os-int8.yaml"
"""Base design of the sweep executors' throughput run (:mod:`simulator.sweep.bench`)."""
SWEEP_WORKLOAD = "ddpm-cifar10.workload.json.gz"
"""Trace of the sweep executors' throughput run: the DDPM CIFAR-10 step of issue 7's targets."""


@dataclass(frozen=True)
class BenchInputs:
    """A folder with ``arch/*.yaml`` (the designs) and ``workloads/*.workload.json.gz`` (the traces)."""

    root: Path

    @property
    def arch_dir(self) -> Path:
        return self.root / "arch"

    @property
    def workloads_dir(self) -> Path:
        return self.root / "workloads"

    def arch_files(self) -> list[Path]:
        """The designs, sorted by file name."""
        return sorted(self.arch_dir.glob("*.yaml"))

    def trace_files(self) -> list[Path]:
        """The committed traces, sorted by file name."""
        return sorted(self.workloads_dir.glob(WORKLOAD_GLOB))


def bench_inputs(scenarios: str | Path | None = None) -> BenchInputs:
    """The committed inputs (packaged ``scenarios/``), or the folder ``scenarios`` (checked: it
    must hold at least one design).

    Raises :class:`SpecError` naming the folder when it has no ``arch/*.yaml``, and
    :class:`accelerator.files.PackagedInputError` when the packaged inputs are missing.
    """
    if scenarios is None:
        # both folders resolved: a missing one is an incomplete install, named by packaged_scenario
        packaged_scenario("workloads")
        inputs = BenchInputs(packaged_scenario("arch").parent)
        if not inputs.arch_files():
            raise SpecError(
                f"the bench's packaged designs are missing ({inputs.arch_dir} has no *.yaml): the install is "
                "incomplete; reinstall picojoule, or point the bench at a checkout with --scenarios DIR/scenarios"
            )
        return inputs
    inputs = BenchInputs(Path(scenarios))
    if not inputs.root.is_dir():
        raise SpecError(f"--scenarios {scenarios}: not a folder")
    if not inputs.arch_files():
        raise SpecError(
            f"--scenarios {scenarios}: no designs in {inputs.arch_dir} (expected arch/*.yaml and "
            f"workloads/{WORKLOAD_GLOB}, as in a checkout's scenarios/ folder)"
        )
    return inputs
