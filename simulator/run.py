"""``picojoule run``: evaluate a scenario's workload on its designs and GPUs, write the report."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from accelerator.files import ensure_out_dir, write_files_atomic
from accelerator.gpu import load_gpu
from simulator.evaluation import evaluate_prepared
from simulator.gpu.calibrate import load_calibration
from simulator.gpu.model import evaluate_gpu, gpu_summary
from simulator.optable import prepare
from simulator.quality import attach_quality, quality_html, quality_summary
from simulator.report import gpu_headline, report_html, results_doc, results_json, summary_table
from simulator.result import DesignResult
from simulator.scenario import load_designs, load_scenario, load_workload


def with_decoder(result: DesignResult, dec: DesignResult) -> DesignResult:
    """``result`` with a once-per-image decoder's cost added to its per-image totals."""
    breakdown = dict(result.energy_breakdown_j)
    for k, v in dec.energy_breakdown_j.items():
        breakdown[k] = breakdown.get(k, 0.0) + v
    extras = {
        **result.extras,
        "decoder": {"latency_s": dec.latency_s_per_image, "energy_j": dec.energy_j_per_image, "ops": len(dec.per_op)},
    }
    return replace(
        result,
        latency_s_per_image=result.latency_s_per_image + dec.latency_s_per_image,
        energy_j_per_image=result.energy_j_per_image + dec.energy_j_per_image,
        energy_breakdown_j=breakdown,
        extras=extras,
    )


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
    out = ensure_out_dir(out_dir)
    gpus = [load_gpu(sc.resolve(g) if g.endswith((".yaml", ".yml")) or "/" in g else g) for g in sc.spec.gpus]
    workload = load_workload(sc.resolve(sc.spec.workload))
    steps = sc.spec.steps or workload.steps
    table = prepare(workload)
    decoder = load_workload(sc.resolve(sc.spec.decoder)) if sc.spec.decoder else None
    dec_table = prepare(decoder) if decoder is not None else None
    results: list[DesignResult] = [
        evaluate_prepared(
            table, arch, steps=steps, fidelity=sc.spec.fidelity, objective=sc.spec.objective, decoder=dec_table
        )
        for arch in archs
    ]
    calibration = None
    if sc.spec.gpu_calibration is not None:
        calibration = load_calibration(sc.resolve(sc.spec.gpu_calibration))
    gpu_results = []
    for gpu in gpus:
        cal = calibration if calibration is not None and calibration.gpu == gpu.name else None
        prec, mode = sc.spec.gpu_precision, sc.spec.gpu_mode
        r = evaluate_gpu(workload, gpu, precision=prec, steps=steps, calibration=cal, mode=mode)
        if decoder is not None:
            r = with_decoder(r, evaluate_gpu(decoder, gpu, precision=prec, steps=1, calibration=cal, mode=mode))
        gpu_results.append(r)
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
    scenario_info = {"name": sc.spec.name, "file": str(path), "fidelity": sc.spec.fidelity}
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
    if gpu_results:
        summary += "\n" + gpu_headline(gpu_results[0], steps)
    if gpu_results:
        summary += "\n\n" + "\n".join(gpu_summary(r) for r in gpu_results)
    notes = [f"{r.name}: {n}" for r in results if r.kind != "gpu" for n in r.notes]
    if notes:  # e.g. why weights could not stay on chip across steps
        summary += "\n\nnotes:\n" + "\n".join(f"  {n}" for n in notes)
    if sc.spec.quality is not None:
        summary += "\n\n" + quality_summary(doc)
    return RunOutput(tuple(results), doc, summary, results_path, report_path)
