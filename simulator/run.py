"""``picojoule run``: evaluate a scenario's workload on its designs, systems and GPUs, write the report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from accelerator.files import ensure_out_dir, write_files_atomic
from accelerator.gpu import GpuSpec, load_gpu
from models.workload import Workload, WorkloadError
from simulator.evaluation import evaluate_prepared
from simulator.gpu.calibrate import load_calibration
from simulator.gpu.fp8 import fp8_torch_path
from simulator.gpu.model import evaluate_gpu, gpu_summary
from simulator.gpu.params import GpuCalibration
from simulator.optable import OpTable, prepare
from simulator.quality import attach_quality, quality_html, quality_summary
from simulator.report import gpu_headline, report_html, results_doc, results_json, summary_table
from simulator.result import DesignResult
from simulator.scenario import Scenario, load_designs, load_scenario, load_systems, load_workload
from simulator.system import evaluate_system
from simulator.system.report import system_summary


def with_decoder(result: DesignResult, dec: DesignResult) -> DesignResult:
    """``result`` with a once-per-image decoder's cost added to its per-image totals (both at the
    same batch: per-image energies, the batch's latency)."""
    breakdown = dict(result.energy_breakdown_j)
    for k, v in dec.energy_breakdown_j.items():
        breakdown[k] = breakdown.get(k, 0.0) + v
    extras = {
        **result.extras,
        "decoder": {"latency_s": dec.latency_s_per_image, "energy_j": dec.energy_j_per_image, "ops": len(dec.per_op)},
    }
    latency = result.latency_s_per_image + dec.latency_s_per_image
    energy = result.energy_j_per_image + dec.energy_j_per_image
    if "batch" in extras:  # the batch's own numbers include the decoder too
        b = result.batch
        extras["batch"] = {**extras["batch"], "latency_s_per_batch": latency, "energy_j_per_batch": energy * b,
                           "images_per_s": b / latency if latency > 0 else float("inf")}  # fmt: skip
    return replace(
        result, latency_s_per_image=latency, energy_j_per_image=energy, energy_breakdown_j=breakdown, extras=extras
    )


def _tag(result: DesignResult, batch: int, tagged: bool) -> DesignResult:
    return replace(result, name=f"{result.name} @b{batch}") if tagged else result


@dataclass(frozen=True)
class GpuPoint:
    """One operating point of a GPU: run mode, precision, images per batch."""

    mode: str
    precision: str
    batch: int

    def text(self) -> str:
        return f"{self.mode} {self.precision} batch {self.batch}"


def evaluate_gpu_point(
    workload: Workload,
    decoder: Workload | None,
    gpu: GpuSpec,
    point: GpuPoint,
    *,
    steps: int,
    calibration: GpuCalibration | None,
    fp8_path: bool = False,
) -> DesignResult:
    """``workload`` (and its decoder, once per image) on ``gpu`` at ``point``; ``fp8_path`` runs an
    fp8 point as the torch fp8 path does (:func:`simulator.gpu.fp8.fp8_torch_path`)."""
    torch_fp8 = fp8_path and point.precision == "fp8"

    def run(w: Workload, n: int) -> DesignResult:
        w = fp8_torch_path(w) if torch_fp8 else w
        return evaluate_gpu(w, gpu, precision=point.precision, steps=n, calibration=calibration,
                            mode=point.mode, batch=point.batch)  # fmt: skip

    r = run(workload, steps)
    if decoder is not None:
        r = with_decoder(r, run(decoder, 1))
    info = {"mode": point.mode, "precision": point.precision, "batch": point.batch, "role": "baseline"}
    if torch_fp8:
        info["fp8"] = "torch path: linear and 1x1 conv GEMMs via _scaled_mm, the rest bf16"
    return replace(r, extras={**r.extras, "gpu_point": info})


def best_gpu_point(points: Sequence[DesignResult]) -> DesignResult:
    """The lowest energy per image among ``points`` (the first of equals), marked ``role: best``
    and carrying every point it was chosen from in ``extras["gpu_point"]["considered"]``."""
    best = min(points, key=lambda r: r.energy_j_per_image)
    considered = [
        {**r.extras["gpu_point"], "role": None, "energy_j_per_image": r.energy_j_per_image,
         "latency_s_per_image": r.latency_s_per_image, "latency_s_per_step": r.latency_s_per_step}
        for r in points
    ]  # fmt: skip
    for c in considered:
        del c["role"]
    point = {**best.extras["gpu_point"], "role": "best", "considered": considered}
    p = best.extras["gpu_point"]
    name = f"{best.extras.get('gpu', best.name.split(' ')[0])} best ({p['mode']} {p['precision']} @b{p['batch']})"
    return replace(best, name=name, extras={**best.extras, "gpu_point": point})


def _gpu_rows(sc: Scenario, workload: Workload, decoder: Workload | None, gpu: GpuSpec,
              cal: GpuCalibration | None, steps: int) -> list[DesignResult]:  # fmt: skip
    """The GPU at the scenario's mode and precision at batch 1 (the reference) and at each other
    batch; with ``gpu_baseline: best`` also its best point over modes × precisions × batches."""
    spec = sc.spec
    tagged = spec.batch != (1,)
    base = [GpuPoint(spec.gpu_mode, spec.gpu_precision, b) for b in dict.fromkeys((1, *spec.batch))]
    rows = [
        _tag(evaluate_gpu_point(workload, decoder, gpu, p, steps=steps, calibration=cal), p.batch, tagged) for p in base
    ]
    if spec.gpu_baseline != "best":
        return rows
    precisions = [p for p in spec.gpu_precisions if p in gpu.peak_tflops_dense]
    search = [GpuPoint(m, p, b) for m in spec.gpu_modes for p in precisions for b in spec.batch]
    points = [rows[0]] + [
        evaluate_gpu_point(workload, decoder, gpu, p, steps=steps, calibration=cal, fp8_path=True)
        for p in search
        if p != base[0] or p.precision == "fp8"
    ]
    return [*rows, best_gpu_point(points)]


@dataclass(frozen=True)
class RunOutput:
    designs: tuple[DesignResult, ...]
    doc: dict[str, Any]
    summary: str
    results_path: Path
    report_path: Path


def run_scenario(path: str | Path, out_dir: str | Path) -> RunOutput:
    """Evaluate every design and GPU of the scenario at ``path``; write results into ``out_dir``.

    ``out_dir`` is checked (created, writable) once the scenario is read and before anything is
    evaluated; results.json and report.html are replaced together and atomically, so a failure
    leaves the previous pair intact (:mod:`accelerator.files`).
    """
    sc = load_scenario(path)
    archs = load_designs(sc)
    systems = load_systems(sc)
    out = ensure_out_dir(out_dir)
    gpus = [load_gpu(sc.resolve(g) if g.endswith((".yaml", ".yml")) or "/" in g else g) for g in sc.spec.gpus]
    workload = load_workload(sc.resolve(sc.spec.workload))
    steps = sc.spec.steps or workload.steps
    decoder = load_workload(sc.resolve(sc.spec.decoder)) if sc.spec.decoder else None
    tables = {b: _prepare(sc, workload, decoder, b) for b in sc.spec.batch}
    tagged = sc.spec.batch != (1,)
    results: list[DesignResult] = [
        _tag(
            evaluate_prepared(
                table, arch, steps=steps, fidelity=sc.spec.fidelity, objective=sc.spec.objective, decoder=dec_table
            ),
            b,
            tagged,
        )
        for arch in archs
        for b, (table, dec_table) in tables.items()
    ]
    results += [
        _tag(
            evaluate_system(workload, system, steps=steps, decoder=decoder, batch=b, fused=mode == "fused").as_design(),
            b,
            tagged,
        )
        for system in systems
        for b in sc.spec.batch
        for mode in sc.spec.system_fusion
    ]
    calibration = None
    if sc.spec.gpu_calibration is not None:
        calibration = load_calibration(sc.resolve(sc.spec.gpu_calibration))
    gpu_results = []
    for gpu in gpus:
        cal = calibration if calibration is not None and calibration.gpu == gpu.name else None
        gpu_results += _gpu_rows(sc, workload, decoder, gpu, cal, steps)
    results += gpu_results
    info = {
        **dict(workload.provenance),
        "steps": steps,
        "traced_steps": workload.steps,
        "ops_per_step": len(workload.ops),
        "macs_per_step": workload.macs_per_step,
        "flops_per_step": workload.flops_per_step,
        "file": sc.spec.workload,
    }
    scenario_info: dict[str, Any] = {"name": sc.spec.name, "file": str(path), "fidelity": sc.spec.fidelity}
    if tagged or sc.spec.gpu_baseline != "eager_b1":
        scenario_info.update(batch=list(sc.spec.batch), gpu_baseline=sc.spec.gpu_baseline)
    doc = results_doc(info, results, scenario_info)
    if sc.spec.quality is not None:
        attach_quality(doc, sc.spec.quality, archs, sc.spec.gpu_precision)
    results_path, report_path = out / "results.json", out / "report.html"
    # One write for both: a disk that fills between them never leaves a new results.json
    # beside an old report.
    write_files_atomic(
        {
            results_path: results_json(doc).encode("utf-8"),
            report_path: report_html(doc, results, steps, quality_html(doc)).encode("utf-8"),
        }
    )
    summary = summary_table(results, steps)
    if systems:
        summary += "\n\n" + "\n".join(system_summary(r) for r in results if "system" in r.extras)
    if gpu_results:
        summary += "\n" + gpu_headline(gpu_results[0], steps, designs=results)
    if gpu_results:
        summary += "\n\n" + "\n".join(gpu_summary(r) for r in gpu_results)
    notes = [f"{r.name}: {n}" for r in results if r.kind != "gpu" for n in r.notes]
    if notes:  # e.g. why weights could not stay on chip across steps
        summary += "\n\nnotes:\n" + "\n".join(f"  {n}" for n in notes)
    if sc.spec.quality is not None:
        summary += "\n\n" + quality_summary(doc)
    return RunOutput(tuple(results), doc, summary, results_path, report_path)


def _prepare(sc: Scenario, workload: Workload, decoder: Workload | None, batch: int) -> tuple[OpTable, OpTable | None]:
    """The workload's and decoder's tables at ``batch``; a batch past the format's limits is the
    scenario's ``batch`` field's error."""
    try:
        dec = prepare(decoder, batch=batch) if decoder is not None else None
        return prepare(workload, batch=batch), dec
    except WorkloadError as exc:
        raise sc.positions.error("batch", f"batch {batch} makes a step too large: {exc}") from None
