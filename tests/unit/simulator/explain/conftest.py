"""Shared by the explorer's tests: the committed ladder, written narrowed or edited, and its results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulator.explain import explain, load_ladder
from simulator.explain.ladder import LadderResult

LADDER = Path(__file__).resolve().parents[4] / "scenarios" / "thousandfold.yaml"


def _ladder_file(tmp_path: Path, workloads: tuple[str, ...] = (), **edits: Any) -> Path:
    """The committed ladder with only ``workloads`` (all if empty), paths made absolute, ``edits`` applied."""
    doc = yaml.safe_load(LADDER.read_text(encoding="utf-8"))
    base = LADDER.parent
    for w in doc["workloads"]:
        for key in ("workload", "decoder", "quality"):
            if w.get(key):
                w[key] = str(base / w[key])
        w["quality_sweeps"] = [str(base / q) for q in w.get("quality_sweeps", ())]
    for r in doc["rungs"]:
        if r.get("arch"):
            r["arch"] = str(base / r["arch"])
        for sf in (r.get("steps_from") or {}).values():
            sf["sweep"] = str(base / sf["sweep"])
    doc["gpu_calibration"] = str(base / doc["gpu_calibration"])
    if workloads:
        doc["workloads"] = [w for w in doc["workloads"] if w["name"] in workloads]
        for r in doc["rungs"]:
            for key in ("steps", "steps_from"):
                if r.get(key):
                    r[key] = {k: v for k, v in r[key].items() if k in workloads}
    doc.update(edits)
    path = tmp_path / "ladder.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def ladder_file() -> Callable[..., Path]:
    """:func:`_ladder_file`, for tests that write a ladder of their own."""
    return _ladder_file


@pytest.fixture(scope="session")
def full() -> LadderResult:
    return explain(load_ladder(LADDER))


@pytest.fixture(scope="session")
def digits(tmp_path_factory: pytest.TempPathFactory) -> LadderResult:
    return explain(load_ladder(_ladder_file(tmp_path_factory.mktemp("digits"), ("digits-ddpm",))))
