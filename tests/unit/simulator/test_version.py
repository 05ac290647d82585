"""The simulator version that keys sweep results changes with the model's source, and only then."""

from __future__ import annotations

import shutil
from pathlib import Path

from simulator.version import MODEL_SOURCES, model_fingerprint, simulator_version

ROOT = Path(__file__).resolve().parents[3]


def _copy_sources(dest: Path) -> Path:
    for entry in MODEL_SOURCES:
        src = ROOT / entry
        if src.is_dir():
            shutil.copytree(src, dest / entry, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / entry).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / entry)
    return dest


def test_the_fingerprint_is_the_trees_and_moves_with_a_cost_file(tmp_path: Path) -> None:
    copy = _copy_sources(tmp_path / "tree")
    assert model_fingerprint(copy) == model_fingerprint(ROOT)  # the same bytes, wherever they lie
    gemm = copy / "simulator" / "cost" / "gemm.py"
    gemm.write_text(gemm.read_text() + "\n# a changed cost model\n")
    assert model_fingerprint(copy) != model_fingerprint(ROOT)


def test_a_cited_table_is_part_of_the_model(tmp_path: Path) -> None:
    copy = _copy_sources(tmp_path / "tree")
    table = copy / "accelerator" / "tech" / "energy_45nm.yaml"
    table.write_text(table.read_text() + "\n# a changed table\n")
    assert model_fingerprint(copy) != model_fingerprint(ROOT)


def test_the_version_names_the_package_and_the_model() -> None:
    v = simulator_version()
    assert "+model." in v and v.endswith(model_fingerprint(ROOT)[:12])
