"""Mutated SCALE-Sim topology CSVs through ``picojoule validate``: cell values, rows and columns,
and raw text (``fuzz_support.text_mutations``). Both forms: the committed conv topology and a
GEMM topology (``Layer, M, N, K``)."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

import pytest
from fuzz_support import SCENARIOS, budgets, check, fuzz_settings, run_cli, write
from hypothesis import given, note
from hypothesis import strategies as st
from mutations import text_mutations

CONV = (SCENARIOS / "workloads" / "resnet18-head.scalesim.csv").read_text()
GEMM = "Layer, M, N, K,\nqkv, 256, 1152, 384,\nproj, 256, 384, 384,\n"
SOURCES = {"resnet18-head.scalesim.csv": CONV, "gemm.scalesim.csv": GEMM}
#: Cell values no size should take, as text.
BAD_CELLS = ("-1", "0", "", " ", "nan", "inf", "1e308", "2.5", "1_000", "0x10", "64KB", "10" * 15, "٣",
             "=1+1", '"', "x" * 10_000)  # fmt: skip
_case = itertools.count()


@st.composite
def cell_mutations(draw: st.DrawFn, text: str) -> tuple[bytes, str, bool]:
    """1 to 3 edits of the parsed table: a cell replaced, a row or column dropped or doubled."""
    rows = list(csv.reader(io.StringIO(text)))
    descs, bad = [], False
    for _ in range(draw(st.integers(1, 3))):
        if not rows:
            break
        i = draw(st.integers(0, len(rows) - 1))
        width = max(1, len(rows[i]))
        j = draw(st.integers(0, width - 1))
        kind = draw(st.sampled_from(["cell", "cell", "cell", "drop_row", "dup_row", "drop_col", "add_col"]))
        if kind == "cell":
            value = draw(st.one_of(st.sampled_from(BAD_CELLS), st.integers(-(10**6), 10**7).map(str)))
            if j < len(rows[i]):
                rows[i][j] = value
            descs.append(f"cell ({i + 1}, {j + 1}) = {value!r:.40}")
            bad = bad or (i > 0 and j > 0 and value.lstrip("-").isdigit() and int(value) <= 0)
        elif kind == "drop_row":
            del rows[i]
            descs.append(f"drop row {i + 1}")
        elif kind == "dup_row":
            rows.insert(i, list(rows[i]))
            descs.append(f"duplicate row {i + 1}")
        elif kind == "drop_col":
            rows = [r[:j] + r[j + 1 :] for r in rows]
            descs.append(f"drop column {j + 1}")
        else:
            rows = [[*r[:j], "7", *r[j:]] for r in rows]
            descs.append(f"add a column before {j + 1}")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8"), "; ".join(descs), bad


def _validate(work: Path, name: str, data: bytes, mutation: str, bad: bool) -> None:
    note(mutation)
    path = write(work / f"{next(_case)}-{name}", data)
    try:
        check("SCALE-Sim CSV: validate", run_cli(["validate", str(path)]), names=[path.name], mutation=mutation,
              suspicious=bad)  # fmt: skip
    finally:
        path.unlink()


@pytest.mark.parametrize("examples", budgets(40))
def test_cell_mutations(examples: int, tmp_path: Path) -> None:
    @fuzz_settings(examples)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(SOURCES)))
        raw, mutation, bad = data.draw(cell_mutations(SOURCES[name]))
        _validate(tmp_path, name, raw, f"{name}: {mutation}", bad)

    case()


@pytest.mark.parametrize("examples", budgets(30))
def test_text_mutations(examples: int, tmp_path: Path) -> None:
    @fuzz_settings(examples)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(SOURCES)))
        raw, mutation = data.draw(text_mutations(SOURCES[name]))
        _validate(tmp_path, name, raw, f"{name}: {mutation}", False)

    case()
