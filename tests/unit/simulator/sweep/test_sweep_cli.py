"""``picojoule sweep``: outputs, the --json line, the summary table, errors, NSGA-II search."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest
from sweep_support import write_sweep

from accelerator.errors import SpecError
from simulator.sweep import cli as sweep_cli
from simulator.sweep.driver import run_sweep


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="picojoule")
    sweep_cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_sweep_command_writes_every_output_and_a_json_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = "constraints:\n  - pes <= 256\n"  # drops the 2 designs with 32 x 16 PEs
    args = _parse(
        [
            "sweep",
            str(write_sweep(tmp_path, extra=extra)),
            "--out",
            str(tmp_path / "o"),
            "--executor",
            "serial",
            "--json",
        ]
    )
    assert args.func(args) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out.strip().splitlines()[-1])
    assert out.strip().count("\n") == 0  # with --json, stdout is the JSON line alone
    assert doc == {
        "points": 10,
        "done": 10,
        "failed": 0,
        "skipped_already_done": 0,
        "pareto_points": doc["pareto_points"],
        "evaluated": 10,
        "infeasible": 2,
        "reasons": [
            {
                "kind": "rejected",
                "reason": "constraint not met: pes <= 256",
                "count": 2,
                "example": {
                    "params": {"compute.rows": 32, "compute.cols": 16, "memory.levels.glb.size_bytes": 65536},
                    "point": "",
                    "workload": "",
                },
            }
        ],
    }
    for name in ("results.sqlite", "results.csv", "pareto.csv", "report.html", "timings.csv"):
        assert (tmp_path / "o" / name).is_file(), name
    with (tmp_path / "o" / "pareto.csv").open() as f:
        front = list(csv.DictReader(f))
    assert len(front) == doc["pareto_points"] >= 2
    assert "energy_per_image (min)" in err and "10 evaluations: 10 done" in err
    page = (tmp_path / "o" / "report.html").read_text()
    assert "<script src=" not in page and len(page) > 4_000_000  # plotly.js inlined
    for div in ("pareto-tiny-0", "parcoords-tiny", "sensitivity-tiny"):
        assert f'id="{div}"' in page


def test_best_design_table_picks_the_minimum(tmp_path: Path) -> None:
    summary = run_sweep(write_sweep(tmp_path), tmp_path / "o", executor="serial")
    with (tmp_path / "o" / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    smallest = min(rows, key=lambda r: float(r["area_mm2"]))
    line = next(x for x in summary.table.splitlines() if "area (min)" in x)
    assert smallest["point_id"][:10] in line
    assert f"{float(smallest['area_mm2']):.4g}" in line


def test_unknown_executor_is_a_user_error(tmp_path: Path) -> None:
    args = _parse(["sweep", str(write_sweep(tmp_path)), "--out", str(tmp_path / "o"), "--executor", "ray://x"])
    with pytest.raises(SpecError, match="unknown executor 'ray://x'; allowed: serial, local"):
        args.func(args)


def test_nsga2_search_is_deterministic_and_resumable(tmp_path: Path) -> None:
    pytest.importorskip("optuna", reason="the search extra (optuna) is not installed")
    extra = "strategy: {kind: nsga2, trials: 10, population: 4, seed: 7}\n"
    sweep = write_sweep(tmp_path, extra=extra)
    first = run_sweep(sweep, tmp_path / "a", executor="serial")
    assert 1 <= first.points <= 10 and first.done == first.points  # repeats are one point
    assert first.evaluated == first.points
    again = run_sweep(sweep, tmp_path / "a", executor="serial")
    assert again.evaluated == 0 and again.skipped_already_done == first.points
    other = run_sweep(sweep, tmp_path / "b", executor="serial")
    keys = [(tmp_path / d / "results.csv").read_text().splitlines() for d in ("a", "b")]
    strip = [sorted(line.rsplit(",", 1)[1] for line in k[1:]) for k in keys]
    assert strip[0] == strip[1] and other.to_json() == first.to_json()


def test_quality_objective_comes_from_models_numerics_once_per_numerics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.numerics import session as numerics

    calls: list[str] = []
    monkeypatch.setattr(numerics, "make_session", lambda model, **kw: ("session", model, kw["images"]))

    def fake_quality(arch: object, *, session: object) -> dict[str, float]:
        calls.append(arch.compute.precision)  # type: ignore[attr-defined]
        return {"psnr_db": 31.5, "ssim": 0.9, "fd": 2.0}

    monkeypatch.setattr(numerics, "quality_objective", fake_quality)
    extra = "quality: {model: digits-random, images: 2, steps: 2}\n"
    text = write_sweep(tmp_path, extra=extra).read_text().replace("area: min", "quality: max")
    (tmp_path / "q.yaml").write_text(text)
    summary = run_sweep(tmp_path / "q.yaml", tmp_path / "o", executor="serial")
    assert summary.done == 12 and calls == ["int8"]  # every point shares the base's numerics
    with (tmp_path / "o" / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["quality_psnr_db"] for r in rows} == {"31.5"} and {r["quality_ssim"] for r in rows} == {"0.9"}
    assert next(x for x in summary.table.splitlines() if "quality (max)" in x).split()[3] == "31.5"
