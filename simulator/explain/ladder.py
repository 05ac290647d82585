"""Evaluate a ladder: every built rung on every workload, the factor each rung buys, the GPU point.

Per workload, rung ``k`` costs ``E_k`` J per image (:func:`simulator.evaluation.evaluate_prepared`
with the rung's design and steps, the decoder once per image); its factor is ``E_{k-1} / E_k``
over the previous *built* rung (pending rungs are listed, never evaluated), so the factors
multiply to ``E_first / E_last`` exactly (checked here, :func:`check_factors`). A batch rung
evaluates a table prepared at ``batch`` B (:func:`simulator.optable.prepare`): energies per image,
latency the batch's. The GPU reference is batch 1 at the workload's first-rung steps, in the
ladder's ``gpu_baseline`` mode (eager when that is ``best``) with the ladder's calibration
(:func:`simulator.run.evaluate_gpu_point`); with ``best`` also the GPU's best point, the lowest
J/image over gpu_modes x gpu_precisions x batches and the reference
(:func:`simulator.run.best_gpu_point`, the search of ``picojoule run``), so it is never worse than
the reference. Rung ``k``'s ratios are ``E_ref / E_k`` and ``E_best / E_k``. Each row says what
produced its factor: the fields that differ from the previous rung's spec
(:mod:`simulator.explain.evidence`), the trace statistics those fields act on, and the energy
components that moved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from accelerator.errors import SimulationError, SpecError
from accelerator.gpu import GpuSpec, load_gpu
from simulator.evaluation import evaluate_prepared
from simulator.explain.evidence import component_moves, spec_changes, trace_evidence
from simulator.explain.floor import Floor, physical_floor
from simulator.explain.quality import QualityTable, rung_quality
from simulator.explain.spec import GPU_BASELINES, PENDING_BASELINES, Ladder, LadderWorkload, Rung
from simulator.gpu.calibrate import load_calibration
from simulator.gpu.params import GpuCalibration
from simulator.optable import OpTable, prepare
from simulator.result import DesignResult
from simulator.run import GpuPoint as RunPoint
from simulator.run import best_gpu_point, evaluate_gpu_point

#: Relative tolerance of the check that the factors multiply to the total.
PRODUCT_RTOL = 1e-9


@dataclass(frozen=True)
class GpuPoint:
    """The GPU reference point (batch 1 at ``mode``) and, with ``best``, the search for the best."""

    gpu: GpuSpec
    precision: str
    mode: str
    calibration: GpuCalibration | None
    best: bool = False
    modes: tuple[str, ...] = ("eager", "graph")
    precisions: tuple[str, ...] = ("bf16", "fp8")
    batches: tuple[int, ...] = (1,)

    @property
    def label(self) -> str:
        cal = "calibrated" if self.calibration is not None else "uncalibrated roofline"
        return f"{self.gpu.name} batch 1, {self.mode}, {self.precision}, {cal}"

    @property
    def search_label(self) -> str:
        return (
            f"{self.gpu.name} best of {'/'.join(self.modes)} x {'/'.join(self.searched_precisions)} x batch "
            f"{'/'.join(str(b) for b in self.batches)} and the reference"
        )

    @property
    def searched_precisions(self) -> tuple[str, ...]:
        return tuple(p for p in self.precisions if p in self.gpu.peak_tflops_dense)

    def _cal(self) -> GpuCalibration | None:
        ok = self.calibration is not None and self.calibration.gpu == self.gpu.name
        return self.calibration if ok else None

    def evaluate(self, lw: LadderWorkload, steps: int) -> DesignResult:
        """The reference: batch 1 at ``mode`` and ``precision``, the decoder once per image."""
        ref = RunPoint(self.mode, self.precision, 1)
        return evaluate_gpu_point(lw.workload, lw.decoder, self.gpu, ref, steps=steps, calibration=self._cal())

    def evaluate_best(self, lw: LadderWorkload, steps: int, reference: DesignResult) -> DesignResult:
        """The lowest J/image among ``reference`` and every mode x precision x batch of the search
        (fp8 as the torch fp8 path), as ``picojoule run``'s ``gpu_baseline: best`` chooses it."""
        ref = RunPoint(self.mode, self.precision, 1)
        search = [RunPoint(m, p, b) for m in self.modes for p in self.searched_precisions for b in self.batches]
        points = [reference] + [
            evaluate_gpu_point(
                lw.workload, lw.decoder, self.gpu, p, steps=steps, calibration=self._cal(), fp8_path=True
            )
            for p in search
            if p != ref or p.precision == "fp8"
        ]
        return best_gpu_point(points)


@dataclass(frozen=True)
class RungRow:
    """One rung on one workload. Numbers are ``None`` on pending rungs."""

    rung: Rung
    result: DesignResult | None
    factor: float | None  # E(previous built rung) / E(this rung); None on the first and pending rungs
    vs_gpu: float | None  # E(GPU reference point) / E(this rung)
    vs_best: float | None  # E(GPU best point) / E(this rung); None without gpu_baseline: best
    vs_gpu_same_steps: float | None  # the GPU at this rung's steps (differs after a steps rung)
    floor: Floor | None
    quality: str
    changes: tuple[str, ...]  # spec fields (and steps) that differ from the previous built rung
    evidence: tuple[str, ...]  # trace statistics and energy components behind the factor

    @property
    def energy_j(self) -> float | None:
        return None if self.result is None else self.result.energy_j_per_image

    @property
    def floor_ratio(self) -> float | None:
        if self.result is None or self.floor is None or self.floor.energy_j <= 0:
            return None
        return self.result.energy_j_per_image / self.floor.energy_j


@dataclass(frozen=True)
class WorkloadLadder:
    workload: LadderWorkload
    gpu: DesignResult  # the reference point (batch 1)
    gpu_best: DesignResult | None  # the best point (gpu_baseline: best), else None
    rows: tuple[RungRow, ...]

    @property
    def name(self) -> str:
        return self.workload.entry.name

    @property
    def built(self) -> tuple[RungRow, ...]:
        return tuple(r for r in self.rows if r.result is not None)

    @property
    def total_factor(self) -> float:
        b = self.built
        return b[0].energy_j / b[-1].energy_j  # type: ignore[operator]

    @property
    def final_vs_gpu(self) -> float:
        return self.gpu.energy_j_per_image / self.built[-1].energy_j  # type: ignore[operator]

    @property
    def final_vs_best(self) -> float | None:
        if self.gpu_best is None:
            return None
        return self.gpu_best.energy_j_per_image / self.built[-1].energy_j  # type: ignore[operator]


@dataclass(frozen=True)
class LadderResult:
    ladder: Ladder
    gpu_point: GpuPoint
    workloads: tuple[WorkloadLadder, ...]

    @property
    def pending(self) -> tuple[Rung, ...]:
        return tuple(r for r in self.ladder.rungs if not r.built)

    def findings(self) -> tuple[str, ...]:
        """Where the model contradicts the ladder's premise: a technique that raises energy
        (removing it would lower energy) or a rung below its own floor."""
        out = []
        for wl in self.workloads:
            for row in wl.built:
                if row.factor is not None and row.factor < 1.0:
                    out.append(
                        f"{wl.name}: adding {row.rung.spec.name} raises energy by {100 * (1 / row.factor - 1):.3g}% "
                        f"({'; '.join(row.evidence[-1:])})"
                    )
                ratio = row.floor_ratio
                if ratio is not None and ratio < 1.0:
                    out.append(f"{wl.name}: {row.rung.spec.name} is {1 / ratio:.3g}x below its dense floor")
        return tuple(out)


def gpu_point_text(r: DesignResult) -> str:
    """A GPU result's operating point in words: ``graph bf16 batch 16``."""
    p = r.extras["gpu_point"]
    return f"{p['mode']} {p['precision']} batch {p['batch']}"


def gpu_point(ladder: Ladder, mode: str | None = None) -> GpuPoint:
    """The ladder's GPU point; ``mode`` overrides its ``gpu_baseline``. ``best`` keeps batch-1
    eager as the reference and searches gpu_modes x gpu_precisions x (gpu_batches + rung batches)."""
    mode = mode or ladder.spec.gpu_baseline
    if mode in PENDING_BASELINES:
        raise SpecError(f"{ladder.path}: gpu_baseline {mode!r} is pending: {PENDING_BASELINES[mode]}")
    if mode not in GPU_BASELINES:
        raise SpecError(f"gpu baseline must be one of {', '.join(GPU_BASELINES)}, got {mode!r}")
    g = ladder.spec.gpu
    gpu = load_gpu(ladder.resolve(g) if g.endswith((".yaml", ".yml")) or "/" in g else g)
    cal = load_calibration(ladder.resolve(ladder.spec.gpu_calibration)) if ladder.spec.gpu_calibration else None
    spec = ladder.spec
    batches = tuple(sorted({*spec.gpu_batches, *(r.batch for r in ladder.built)}))
    best = mode == "best"
    ref_mode = "eager" if best else mode
    return GpuPoint(gpu, spec.gpu_precision, ref_mode, cal, best, spec.gpu_modes, spec.gpu_precisions, batches)


def check_factors(rows: tuple[RungRow, ...], where: str) -> None:
    """The factors of the built rungs multiply to E_first / E_last (rel. :data:`PRODUCT_RTOL`)."""
    built = [r for r in rows if r.result is not None]
    product = math.prod(r.factor for r in built[1:] if r.factor is not None)
    total = built[0].energy_j / built[-1].energy_j  # type: ignore[operator]
    if not math.isclose(product, total, rel_tol=PRODUCT_RTOL):
        raise SimulationError(f"{where}: the rung factors multiply to {product!r}, not the total {total!r}")


def _workload_ladder(
    ladder: Ladder, lw: LadderWorkload, point: GpuPoint, quality: QualityTable | None
) -> WorkloadLadder:
    name = lw.entry.name
    tables: dict[int, tuple[OpTable, OpTable | None]] = {}
    base_steps = lw.entry.steps
    gpu_at: dict[int, DesignResult] = {base_steps: point.evaluate(lw, base_steps)}
    best = point.evaluate_best(lw, base_steps, gpu_at[base_steps]) if point.best else None
    rows: list[RungRow] = []
    prev: tuple[Rung, DesignResult] | None = None
    for rung in ladder.rungs:
        if rung.arch is None:
            rows.append(RungRow(rung, None, None, None, None, None, None, "-", (), (f"pending: {rung.spec.pending}",)))
            continue
        steps = rung.steps[name]
        if rung.batch not in tables:
            dec_b = prepare(lw.decoder, batch=rung.batch) if lw.decoder is not None else None
            tables[rung.batch] = (prepare(lw.workload, batch=rung.batch), dec_b)
        table, dec = tables[rung.batch]
        try:
            r = evaluate_prepared(table, rung.arch, steps=steps, fidelity=ladder.spec.fidelity, decoder=dec)
        except SimulationError as exc:
            raise SimulationError(f"{ladder.path}: rung {rung.spec.name!r} on {name}: {exc}") from None
        if steps not in gpu_at:
            gpu_at[steps] = point.evaluate(lw, steps)
        changes: tuple[str, ...] = ()
        evidence: tuple[str, ...] = ()
        factor = None
        if prev is not None:
            p_rung, p_res = prev
            changes = spec_changes(p_rung, rung, name)
            factor = p_res.energy_j_per_image / r.energy_j_per_image
            evidence = (*trace_evidence(changes, lw.workload, r), component_moves(p_res, r))
        rows.append(
            RungRow(
                rung=rung,
                result=r,
                factor=factor,
                vs_gpu=gpu_at[base_steps].energy_j_per_image / r.energy_j_per_image,
                vs_best=None if best is None else best.energy_j_per_image / r.energy_j_per_image,
                vs_gpu_same_steps=gpu_at[steps].energy_j_per_image / r.energy_j_per_image,
                floor=physical_floor(rung.arch, table, steps, dec),
                quality=rung_quality(quality, rung, name, ladder, lw.sweeps),
                changes=changes,
                evidence=evidence,
            )
        )
        prev = (rung, r)
    out = tuple(rows)
    check_factors(out, f"{ladder.path} {name}")
    return WorkloadLadder(lw, gpu_at[base_steps], best, out)


def explain(ladder: Ladder, gpu_mode: str | None = None) -> LadderResult:
    """Evaluate every built rung of ``ladder`` on every workload against its GPU point."""
    if not ladder.built:
        raise SpecError(f"{ladder.path}: every rung is pending; nothing to evaluate")
    point = gpu_point(ladder, gpu_mode)
    wls = []
    for lw in ladder.workloads:
        q = QualityTable.load(lw.quality_path) if lw.quality_path is not None else None
        wls.append(_workload_ladder(ladder, lw, point, q))
    return LadderResult(ladder, point, tuple(wls))
