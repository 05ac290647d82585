"""``mapping.conv_view``: window by default on every committed design, im2col on the SCALE-Sim
specs only, strict values with the line and dotted field in the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerator.errors import SpecError
from accelerator.spec import load_arch, parse_arch

ROOT = Path(__file__).resolve().parents[3]
SCALESIM = ROOT / "scenarios" / "validation" / "scalesim-32x32.yaml"


def test_default_is_window_on_every_design() -> None:
    for path in sorted((ROOT / "scenarios" / "arch").glob("*.yaml")):
        assert load_arch(path).mapping.conv_view == "window", path.name


def test_scalesim_arrays_are_im2col() -> None:
    for size in ("32x32", "128x128"):
        m = load_arch(ROOT / "scenarios" / "validation" / f"scalesim-{size}.yaml").mapping
        assert (m.memory_model, m.conv_view) == ("one_level", "im2col")


def test_unknown_view_names_line_and_field() -> None:
    text = SCALESIM.read_text(encoding="utf-8").replace("conv_view: im2col", "conv_view: toeplitz")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "conv_view: toeplitz" in ln)
    with pytest.raises(SpecError) as err:
        parse_arch(text, "scalesim.yaml")
    msg = str(err.value)
    assert f"scalesim.yaml:{line}" in msg and "mapping.conv_view" in msg and "im2col" in msg
