"""Steps sweeps: the file format, the binding's choice (closed form over hand-made files), and the runner."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from accelerator.errors import SpecError
from accelerator.numerics import NumericsSpec
from models.numerics.quality_model import EmulatedImages
from models.numerics.steps import StepsBound, check_sweep, choose_steps, load_sweep, numerics_entry
from models.numerics.steps_run import SweepDesign, parse_steps, run_steps_sweep, steps_table

HANDMADE = Path(__file__).resolve().parent / "data" / "handmade-steps.json"
"""A hand-made sweep: fp32 PSNR 6, 18, 31, 40, inf dB at 1, 2, 5, 20, 50 steps (reference 50); FD to
data 900, 400, 150, 90, 130 (lowest at 20 steps, not at the reference); series int8 at 1, 5, 50 steps."""


def _entry(steps: int, psnr: float | None, ssim: float, fd: float | None) -> dict[str, Any]:
    return {"steps": steps, "psnr_db": psnr, "ssim": ssim, "fd_data": fd}


def sweep_doc(model: str = "digits-ddpm") -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(HANDMADE.read_text())
    return {**doc, "model": model}


def test_choose_steps_picks_the_fewest_steps_meeting_every_bound() -> None:
    doc = check_sweep(sweep_doc())
    assert choose_steps(doc, StepsBound(min_psnr_db=30.0)).steps == 5
    assert choose_steps(doc, StepsBound(min_psnr_db=31.0)).steps == 5  # the bound is inclusive
    assert choose_steps(doc, StepsBound(min_psnr_db=31.5)).steps == 20
    assert choose_steps(doc, StepsBound(min_psnr_db=100.0)).steps == 50  # identical to the reference: inf dB
    assert choose_steps(doc, StepsBound(max_fd_data=100.0)).steps == 20
    assert choose_steps(doc, StepsBound(min_psnr_db=10.0, min_ssim=0.95)).steps == 20
    assert choose_steps(doc, StepsBound(min_psnr_db=30.0), series="int8").steps == 50
    c = choose_steps(doc, StepsBound(min_psnr_db=17.0), file="s.json")
    assert (c.steps, c.entry["psnr_db"], c.reference_steps, c.file) == (2, 18.0, 50, "s.json")
    assert c.to_json()["bound"] == "PSNR >= 17 dB"


def test_choose_steps_errors_name_the_best_available() -> None:
    doc = check_sweep(sweep_doc())
    best = r"meets FD to data <= 50; best fd_data: 20 steps: PSNR 40.00 dB.*FD to data 90"
    with pytest.raises(SpecError, match=best):
        choose_steps(doc, StepsBound(max_fd_data=50.0), file="s.json")
    with pytest.raises(SpecError, match="best psnr_db: 50 steps: PSNR 33.00 dB"):
        choose_steps(doc, StepsBound(min_psnr_db=35.0), series="int8")
    with pytest.raises(SpecError, match="no series 'int4'; it has: fp32, int8"):
        choose_steps(doc, StepsBound(min_psnr_db=35.0), series="int4")
    no_fd = copy.deepcopy(sweep_doc("terrain"))
    for e in no_fd["series"][0]["entries"]:
        e["fd_data"] = None
    with pytest.raises(SpecError, match="has no fd_data to bound"):
        choose_steps(check_sweep(no_fd), StepsBound(max_fd_data=50.0))


def test_numerics_entry_finds_the_series_with_these_numerics_at_these_steps() -> None:
    doc = sweep_doc()
    doc["series"][0]["numerics"] = "fp32"
    doc["series"][1]["numerics"] = "w int8/per_channel a int8/per_tensor acc int32"
    doc = check_sweep(doc)
    e = numerics_entry(doc, "w int8/per_channel a int8/per_tensor acc int32", 5, file="s.json")
    assert e is not None and (e.series, e.steps, e.file, e.images, e.reference_steps) == ("int8", 5, "s.json", 32, 50)
    assert e.entry == doc["series"][1]["entries"][1]
    assert numerics_entry(doc, "w int8/per_channel a int8/per_tensor acc int32", 20) is None  # not measured there
    assert numerics_entry(doc, "w int4/per_block32/mx a int8/per_block32/mx acc int32", 5) is None
    fp32 = numerics_entry(doc, "fp32", 20)
    assert fp32 is not None and fp32.entry["fd_data"] == 90.0


def test_undefined_psnr_meets_no_bound() -> None:
    """PSNR null with SSIM below 1 is NaN images (e.g. an fp16 overflow), not identical ones."""
    doc = sweep_doc()
    doc["series"][0]["entries"] = [_entry(1, None, float("nan"), None), _entry(2, 20.0, 0.6, None)]
    assert choose_steps(check_sweep(doc), StepsBound(min_psnr_db=10.0)).steps == 2


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(kind="sweep"), "kind is not 'steps-sweep'"),
        (lambda d: d.update(version=2), "version 2, expected 1"),
        (lambda d: d["reference"].update(steps=0), r"reference.steps must be an integer in \[1, 1000\]"),
        (lambda d: d["series"][0]["entries"].reverse(), "step counts must increase, got 20 after 50"),
        (lambda d: d["series"][1]["entries"][0].update(psnr_db="30"), r"series.1.entries.0.psnr_db must be a number"),
        (lambda d: d.update(series=[]), "series must be a non-empty list"),
    ],
)
def test_malformed_sweep_files_are_rejected_with_the_fault(tmp_path: Path, edit: Any, message: str) -> None:
    doc = sweep_doc()
    edit(doc)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SpecError, match=message) as err:
        load_sweep(path)
    assert str(path) in str(err.value)


def test_load_sweep_reads_a_good_file_and_names_a_bad_one(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(sweep_doc()))
    assert load_sweep(path)["model"] == "digits-ddpm"
    path.write_text("{")
    with pytest.raises(SpecError, match="not a readable JSON file"):
        load_sweep(path)
    with pytest.raises(SpecError, match="no such steps-sweep file"):
        load_sweep(tmp_path / "none.json")


def test_parse_steps() -> None:
    assert parse_steps("8, 1,2,2") == (1, 2, 8)
    with pytest.raises(SpecError, match="comma-separated integers, got 'x'"):
        parse_steps("1,x")
    with pytest.raises(SpecError, match=r"in \[1, 1000\], got 0"):
        parse_steps("0,4")


class ConvergingModel:
    """A QualityModel without torch whose s-step output is ``target + noise / s``: the closed form."""

    name, data_range, weights, sampler = "converging", 2.0, "none", "closed form"

    def _images(self, n: int, steps: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        target = rng.uniform(-0.5, 0.5, (n, 1, 8, 8))
        noise = rng.uniform(-0.5, 0.5, (n, 1, 8, 8))
        out: np.ndarray = (target + noise / steps).astype(np.float32)
        return out

    def reference(self, n: int, steps: int, seed: int) -> np.ndarray:
        return self._images(n, steps, seed)

    def calibrate(self, numerics: NumericsSpec, n: int, steps: int, seed: int) -> dict[str, float]:
        return {"0.x": float(steps)}

    def emulate(self, numerics: NumericsSpec, amax: dict[str, float], n: int, steps: int, seed: int) -> EmulatedImages:
        assert amax == {"0.x": float(steps)}  # calibrated at the emulated step count
        return EmulatedImages(self._images(n, steps, seed) + np.float32(0.01), {})

    def frechet(self, a: np.ndarray, b: np.ndarray) -> float | None:
        return None

    def data_images(self, n: int | None) -> np.ndarray | None:
        return None


def test_sweep_on_a_closed_form_model() -> None:
    """Error against the reference is noise·|1/s - 1/R|: PSNR rises toward R, inf at R itself."""
    design = SweepDesign("offset", NumericsSpec(), "a.yaml")
    doc = run_steps_sweep(ConvergingModel(), [8, 1, 2, 4], images=3, seed=1, designs=[design])
    assert doc["reference"]["steps"] == 8 and [s["name"] for s in doc["series"]] == ["fp32", "offset"]
    fp32 = doc["series"][0]["entries"]
    assert [e["steps"] for e in fp32] == [1, 2, 4, 8]
    assert fp32[-1]["psnr_db"] is None and fp32[-1]["ssim"] == 1.0 and fp32[-1]["max_abs_error"] == 0.0
    psnr = [e["psnr_db"] for e in fp32[:-1]]
    assert psnr == sorted(psnr) and all(math.isfinite(p) for p in psnr)
    noise = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 3, 1, 8, 8))[1]
    mse = float(np.mean((noise * (1 / 2 - 1 / 8)) ** 2))
    assert fp32[1]["psnr_db"] == pytest.approx(10 * math.log10(4 / mse), rel=1e-5)
    emu = doc["series"][1]["entries"]
    assert emu[-1]["psnr_db"] == pytest.approx(46.0206, abs=1e-3)  # a 0.01 offset: 10 log10(4 / 1e-4)
    assert emu[-1]["numerics_psnr_db"] == pytest.approx(46.0206, abs=1e-3)
    assert doc["data"] is None and doc["reference"]["fd_data"] is None
    table = steps_table(doc)
    assert "reference: fp32 at 8 steps" in table and "numerics dB" in table
    assert run_steps_sweep(ConvergingModel(), [8, 1, 2, 4], images=3, seed=1, designs=[design]) == doc


def test_reference_steps_outside_the_sweep() -> None:
    doc = run_steps_sweep(ConvergingModel(), [1, 2], images=2, reference_steps=16)
    assert doc["reference"]["steps"] == 16 and all(e["psnr_db"] is not None for e in doc["series"][0]["entries"])


def test_digits_sweep_at_the_reference_count_is_the_reference_exactly(tmp_path: Path) -> None:
    """The real sampler (random-init digits UNet, tiny): the reference run at its own count is exact."""
    torch = pytest.importorskip("torch", reason="the digits sampler needs torch (trace extra)")
    pytest.importorskip("diffusers", reason="the digits sampler needs diffusers (trace extra)")
    from models.numerics.cli import register  # noqa: F401  (the command's module imports cleanly)
    from simulator.cli import main

    threads = torch.get_num_threads()
    out = tmp_path / "s.json"
    argv = ["quality", "--model", "digits-random", "--steps-sweep", "1,3", "--reference-steps", "3"]
    try:
        assert main([*argv, "--images", "2", "--out", str(out), "-q"]) == 0
    finally:
        torch.set_num_threads(threads)
    doc = load_sweep(out)
    one, three = doc["series"][0]["entries"]
    assert three == {**three, "psnr_db": None, "ssim": 1.0, "max_abs_error": 0.0, "steps": 3}
    assert one["psnr_db"] is not None and one["ssim"] < 1.0
    assert doc["command"].startswith("picojoule quality --model digits-random --steps-sweep 1,3 --reference-steps 3")
    assert doc["threads"] == 1 and doc["sampler"].startswith("DDIM")
