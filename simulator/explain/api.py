"""One call for the command and for scripts: read a ladder, evaluate it, write the outputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from accelerator.files import ensure_out_dir, write_files_atomic
from simulator.explain.ladder import LadderResult, explain
from simulator.explain.report import doc_json, report_html, result_doc, text_summary
from simulator.explain.sensitivity import Sensitivity, sensitivity
from simulator.explain.spec import load_ladder


@dataclass(frozen=True)
class ExplainOutput:
    result: LadderResult
    sensitivity: dict[str, tuple[Sensitivity, ...]]
    summary: str
    json_text: str
    json_path: Path | None
    report_path: Path | None


def run_explain(
    path: str | Path,
    out_dir: str | Path | None = None,
    *,
    gpu_baseline: str | None = None,
    sensitivity: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ExplainOutput:
    """Evaluate the ladder at ``path``; with ``out_dir`` write ``explain.json`` and ``report.html``
    together and atomically (the folder is checked before any evaluation). ``progress`` is told
    each phase as it starts (the command prints it on stderr)."""
    say = progress if progress is not None else (lambda _text: None)
    ladder = load_ladder(path)
    out = ensure_out_dir(out_dir) if out_dir is not None else None
    say(f"evaluating {len(ladder.rungs)} rungs on {len(ladder.workloads)} workloads and the GPU points")
    result = explain(ladder, gpu_baseline)
    sens: dict[str, tuple[Sensitivity, ...]] = {}
    if sensitivity:
        for i, wl in enumerate(result.workloads, 1):
            say(f"sensitivity {i}/{len(result.workloads)}: {wl.name} (each assumption x0.5 and x2)")
            sens[wl.name] = _sens(result, wl.name)
    text = doc_json(result_doc(result, sens))
    json_path = report_path = None
    if out is not None:
        json_path, report_path = out / "explain.json", out / "report.html"
        write_files_atomic({json_path: text.encode("utf-8"), report_path: report_html(result, sens).encode("utf-8")})
    return ExplainOutput(result, sens, text_summary(result, sens), text, json_path, report_path)


def _sens(result: LadderResult, name: str) -> tuple[Sensitivity, ...]:
    return sensitivity(result, name)
