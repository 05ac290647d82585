"""Format version 2: tensor ids round-trip, are validated, and version-1 files still load."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from models import workload as wl
from models.trace.summary import summary_text
from models.workload import Op, Workload, WorkloadError

ROOT = Path(__file__).resolve().parents[4]


def _ops(*pairs: tuple[tuple[int, ...], tuple[int, ...]]) -> tuple[Op, ...]:
    return tuple(Op(name=f"op{i}", kind="elementwise", reads=r, writes=w) for i, (r, w) in enumerate(pairs))


def test_round_trip_keeps_the_ids(tmp_path: Path) -> None:
    w = Workload(ops=_ops(((0,), (1,)), ((1, 0), (2, 3)), ((3, 3), (4,))))
    p = wl.save(w, tmp_path / "ids.workload.json.gz")
    doc = json.loads(gzip.decompress(p.read_bytes()))
    assert doc["version"] == wl.FORMAT_VERSION == 2
    assert [op["reads"] for op in doc["ops"]] == [[0], [1, 0], [3, 3]]
    assert [op["writes"] for op in doc["ops"]] == [[1], [2, 3], [4]]
    back = wl.load(p)
    assert back == w and back.format_version == 2 and back.has_tensor_ids
    assert wl.dumps(back) == p.read_bytes()


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ((((0,), (1,)), ((1,), (1,))), r"ops\.1 \(op1\)\.writes\.0: tensor 1 is already written by op 0"),
        ((((2,), (1,)), ((1,), (2,))), r"ops\.0 \(op0\)\.reads\.0: tensor 2 is written by op 1, not before"),
        ((((1,), (1,)),), r"ops\.0 \(op0\)\.reads\.0: tensor 1 is written by op 0, not before"),
        ((((-1,), (1,)),), r"ops\.0 \(op0\)\.reads: expected a list of tensor ids, integers in \[0, 2,147,483,647\]"),
        ((((0,), (2**31,)),), r"ops\.0 \(op0\)\.writes: expected a list of tensor ids"),
        ((((True,), (1,)),), r"ops\.0 \(op0\)\.reads: expected a list of tensor ids"),
    ],
)
def test_bad_ids_name_the_op_and_field(pairs: tuple, message: str) -> None:
    with pytest.raises(WorkloadError, match=message):
        Workload(ops=_ops(*pairs))


def test_bad_ids_in_a_file_name_the_file(tmp_path: Path) -> None:
    doc = wl.to_json(Workload(ops=_ops(((0,), (1,)), ((1,), (2,)))))
    doc["ops"][1]["reads"] = [5, "x"]
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(WorkloadError, match=r"bad\.json: ops\.1 \(op1\)\.reads: expected a list of tensor ids"):
        wl.load(p)


def _version_1(tmp_path: Path, with_ids: bool = False) -> Path:
    doc = wl.to_json(Workload(ops=_ops(((0,), (1,)))))
    doc["version"] = 1
    for op in doc["ops"]:
        if not with_ids:
            del op["reads"], op["writes"]
    p = tmp_path / "v1.workload.json"
    p.write_text(json.dumps(doc))
    return p


def test_a_version_1_file_loads_without_ids_and_says_so(tmp_path: Path) -> None:
    w = wl.load(_version_1(tmp_path))
    assert w.format_version == 1 and not w.has_tensor_ids
    assert w.ops[0].reads == () and w.ops[0].writes == ()
    assert wl.edges(w) == []
    text = summary_text(w, "v1.workload.json")
    assert "version 1 file: no tensor identities, producer→consumer edges unknown; re-trace to get them" in text
    # written again, it is a version-2 file that still has no ids
    assert json.loads(gzip.decompress(wl.dumps(w)))["version"] == 2


def test_a_version_1_file_with_ids_is_refused(tmp_path: Path) -> None:
    message = r"ops\.0 \(op0\): unknown fields \['reads', 'writes'\]; allowed in version 1"
    with pytest.raises(WorkloadError, match=message):
        wl.load(_version_1(tmp_path, with_ids=True))


def test_a_hand_written_workload_says_it_has_no_ids() -> None:
    text = summary_text(Workload(ops=(Op(name="a", kind="elementwise"),)))
    assert "no tensor identities (a hand-written workload)" in text
    assert "NOTE: no tensor" not in summary_text(Workload(ops=_ops(((0,), (1,)))))


def test_every_read_of_the_committed_traces_resolves() -> None:
    """Every committed trace is version 2; every read is an earlier op's output or one of the
    few model inputs (latent, timestep, text embedding), never a tensor of unknown origin."""
    traces = sorted((ROOT / "scenarios" / "workloads").glob("*.workload.json.gz"))
    assert traces
    for path in traces:
        w = wl.load(path)
        assert w.format_version == 2 and w.has_tensor_ids, path
        assert all(op.writes for op in w.ops), path
        inputs = wl.step_inputs(w)
        assert 1 <= len(inputs) <= 4, (path, inputs)
        produced = {t for op in w.ops for t in op.writes}
        earlier: set[int] = set()
        for i, op in enumerate(w.ops):
            assert all(t in earlier or (t not in produced and t in inputs) for t in op.reads), (path, i)
            earlier.update(op.writes)
