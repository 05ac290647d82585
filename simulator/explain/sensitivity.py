"""Which assumption moves the final ratio most if it is 2x off.

For one workload, the last built rung (at its batch) and the GPU are re-evaluated with one
assumption scaled by x0.5 and x2 (everything else as cited), and the final ratio recomputed
against both GPU points: the reference (batch 1 eager) and, with ``gpu_baseline: best``, the
best point. For a GPU assumption (``gpu_*``) the best point's search is redone at each scale
(:meth:`GpuPoint.evaluate_best`), so it may move to another mode, precision or batch (named in
``best_point_half``/``best_point_double``); for a design assumption the GPU is untouched and the
best point stays the ladder's. What is scaled, and how (each a spec override or a parameter of
the GPU model, never a table):

- ``dram``: the design's DRAM energy per bit (``memory.dram.energy_pj_per_bit`` = the cited
  table's value x k); the GPU's fitted HBM energy is not this assumption and stays.
- ``sram``: read and write energy per access of every shared on-chip level (``read_energy_pj``,
  ``write_energy_pj`` = the SRAM model's value x k, :func:`simulator.cost.hardware.level_energy`).
- ``rf``: the same for the per-PE register file.
- ``mac``: energy per MAC of every supported precision (``compute.mac_energy_pj`` = the cited
  table's value x k, :func:`simulator.cost.hardware.mac_energy_pj`).
- ``leakage``: every level's ``leakage_mw`` (its own standby: the unverified SRAM leakage default,
  x its technology's factor, NVM 0, :func:`simulator.cost.hardware.level_leakage_mw`; x k) and the
  logic's ``static_power_mw``.
- ``sparsity``: every zero-fraction statistic of the trace (``*_zero_frac``), x k clipped to
  [0, 1]; a trace without statistics cannot move.
- ``gpu_idle``: the GPU's idle power (the calibration's ``idle_w``; the spec's when uncalibrated).
- ``gpu_host``: the host's issue time per op in eager mode (``host_issue_s``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from accelerator.spec import ArchSpec
from models.workload import Workload
from simulator.cost.hardware import hardware, level_energy, level_leakage_mw, mac_energy_pj
from simulator.evaluation import evaluate_prepared
from simulator.explain.ladder import GpuPoint, LadderResult, WorkloadLadder, gpu_point_text
from simulator.explain.spec import LadderWorkload
from simulator.gpu.params import GpuCalibration, GpuModelParams, default_params
from simulator.optable import prepare

SCALES = (0.5, 2.0)

ASSUMPTIONS: dict[str, str] = {
    "dram": "DRAM energy per bit (design)",
    "sram": "SRAM energy per access (shared levels)",
    "rf": "register-file energy per access",
    "mac": "MAC energy (every precision)",
    "leakage": "SRAM leakage and static power",
    "sparsity": "zero fractions of the trace",
    "gpu_idle": "GPU idle power",
    "gpu_host": "GPU host issue time per op (eager)",
}


@dataclass(frozen=True)
class Sensitivity:
    """The final ratio with one assumption at x0.5, x1 and x2, against the reference and the best point.

    The ``best*`` fields are ``None`` without ``gpu_baseline: best``. ``best_point_half`` and
    ``best_point_double`` name the best point found at x0.5 and x2 (``graph bf16 batch 16``):
    re-searched for a GPU assumption, the ladder's own for a design assumption (``best_redone``).
    """

    key: str
    what: str
    ratio_half: float
    ratio: float
    ratio_double: float
    best_half: float | None = None
    best: float | None = None
    best_double: float | None = None
    best_point_half: str | None = None
    best_point_double: str | None = None
    best_redone: bool = False

    @property
    def swing(self) -> float:
        """max / min of the three ratios against the reference: how far a 2x error can move it."""
        return _swing(self.ratio_half, self.ratio, self.ratio_double)

    @property
    def swing_best(self) -> float | None:
        """The same against the best point; ``None`` without one."""
        if self.best_half is None or self.best is None or self.best_double is None:
            return None
        return _swing(self.best_half, self.best, self.best_double)


def _swing(*ratios: float) -> float:
    lo = min(ratios)
    return max(ratios) / lo if lo > 0 else float("inf")


def _scale_levels(arch: ArchSpec, k: float, per_pe: bool) -> ArchSpec:
    node = arch.technology_nm
    levels = []
    for lv in arch.memory.levels:
        if lv.per_pe == per_pe:
            read, write = level_energy(lv.model_copy(update={"banks": 1}) if per_pe else lv, node, arch.vdd_v)
            lv = lv.model_copy(update={"read_energy_pj": read * k, "write_energy_pj": write * k})
        levels.append(lv)
    return arch.model_copy(update={"memory": arch.memory.model_copy(update={"levels": tuple(levels)})})


def scaled_arch(arch: ArchSpec, key: str, k: float) -> ArchSpec:
    """``arch`` with assumption ``key`` scaled by ``k`` (design-side keys; others return it as is)."""
    if key == "dram":
        hw = hardware(arch)
        dram = arch.memory.dram.model_copy(update={"energy_pj_per_bit": hw.dram_pj_per_bit * k})
        return arch.model_copy(update={"memory": arch.memory.model_copy(update={"dram": dram})})
    if key in ("sram", "rf"):
        return _scale_levels(arch, k, per_pe=key == "rf")
    if key == "mac":
        hw = hardware(arch)
        mpc = arch.compute.macs_per_pe_per_cycle
        pj = {p: mac_energy_pj(arch, p, hw.p_bits, n) * k for p, n in mpc.items()}
        return arch.model_copy(update={"compute": arch.compute.model_copy(update={"mac_energy_pj": pj})})
    if key == "leakage":
        # each level's own standby (a technology's factor: NVM 0), at the design's supply
        node = arch.technology_nm
        levels = tuple(
            lv.model_copy(update={"leakage_mw": level_leakage_mw(lv, node, arch.vdd_v) * k})
            for lv in arch.memory.levels
        )
        mem = arch.memory.model_copy(update={"levels": levels})
        return arch.model_copy(update={"memory": mem, "static_power_mw": arch.static_power_mw * k})
    return arch


def scaled_workload(workload: Workload, k: float) -> Workload:
    """``workload`` with every ``*_zero_frac`` statistic x ``k``, clipped to [0, 1]."""
    stats = {
        name: tuple(tuple(None if v is None else min(1.0, v * k) for v in row) for row in table)
        if name.endswith("_zero_frac")
        else table
        for name, table in workload.stats.items()
    }
    return dataclasses.replace(workload, stats=stats)


def scaled_gpu(point: GpuPoint, key: str, k: float) -> GpuPoint:
    cal = point.calibration
    if cal is None:
        cal = GpuCalibration(gpu=point.gpu.name, params=default_params(point.gpu, point.precision))
    if key == "gpu_idle":
        return dataclasses.replace(point, calibration=dataclasses.replace(cal, params=_p(cal, idle_w=k)))
    if key == "gpu_host":
        return dataclasses.replace(point, calibration=dataclasses.replace(cal, params=_p(cal, host_issue_s=k)))
    return point


def _p(cal: GpuCalibration, **scale: float) -> GpuModelParams:
    return dataclasses.replace(cal.params, **{n: getattr(cal.params, n) * k for n, k in scale.items()})


@dataclass(frozen=True)
class _Scaled:
    """The final ratio against both GPU points with one assumption scaled, and the best point's name."""

    vs_ref: float
    vs_best: float | None
    best_point: str | None


def _scaled(wl: WorkloadLadder, point: GpuPoint, fidelity: str, key: str, k: float) -> _Scaled:
    last = wl.built[-1].rung
    assert last.arch is not None
    lw: LadderWorkload = wl.workload
    final = wl.built[-1].energy_j
    assert final is not None
    if key.startswith("gpu_"):
        gpu = scaled_gpu(point, key, k)
        ref = gpu.evaluate(lw, lw.entry.steps)
        best = gpu.evaluate_best(lw, lw.entry.steps, ref) if wl.gpu_best is not None else None
        vs_best = None if best is None else best.energy_j_per_image / final
        return _Scaled(ref.energy_j_per_image / final, vs_best, None if best is None else gpu_point_text(best))
    workload = scaled_workload(lw.workload, k) if key == "sparsity" else lw.workload
    dec = prepare(lw.decoder, batch=last.batch) if lw.decoder is not None else None
    r = evaluate_prepared(
        prepare(workload, batch=last.batch), scaled_arch(last.arch, key, k), steps=last.steps[wl.name],
        fidelity=fidelity, decoder=dec,
    )  # fmt: skip
    e = r.energy_j_per_image
    best = wl.gpu_best
    return _Scaled(
        wl.gpu.energy_j_per_image / e,
        None if best is None else best.energy_j_per_image / e,
        None if best is None else gpu_point_text(best),
    )


def sensitivity(result: LadderResult, workload: str) -> tuple[Sensitivity, ...]:
    """The sensitivity table of ``workload``'s final ratio, largest swing first (against the best
    point where there is one, else the reference)."""
    wl = next(w for w in result.workloads if w.name == workload)
    fid = result.ladder.spec.fidelity
    rows = []
    for key, what in ASSUMPTIONS.items():
        lo, hi = (_scaled(wl, result.gpu_point, fid, key, k) for k in SCALES)
        rows.append(
            Sensitivity(
                key, what, lo.vs_ref, wl.final_vs_gpu, hi.vs_ref, lo.vs_best, wl.final_vs_best, hi.vs_best,
                lo.best_point, hi.best_point, key.startswith("gpu_") and wl.gpu_best is not None,
            )
        )  # fmt: skip
    return tuple(sorted(rows, key=lambda s: (-(s.swing_best or s.swing), s.key)))
