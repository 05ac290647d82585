"""``picojoule explain`` without a ladder: the committed one, from the package (works from a wheel)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import simulator.explain.cli as explain_cli
from accelerator.files import packaged_scenario
from simulator.explain.spec import load_ladder

ROOT = Path(__file__).resolve().parents[4]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    explain_cli.register(parser.add_subparsers())
    return parser.parse_args(argv)


def test_default_ladder_is_the_packaged_thousandfold() -> None:
    path = packaged_scenario(explain_cli.DEFAULT_LADDER)
    assert path.resolve() == (ROOT / "scenarios" / "thousandfold.yaml").resolve()
    ladder = load_ladder(path)  # its relative paths resolve beside it, inside the package
    assert ladder.rungs and ladder.workloads


def test_ladder_argument_is_optional(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[object] = []

    class _Out:
        json_text, summary, json_path, report_path = "{}", "summary", None, None

    def fake_run(path: object, out: object, **kw: object) -> _Out:
        seen.append(path)
        say = kw["progress"]
        assert callable(say)
        say("evaluating 2 rungs on 1 workloads and the GPU points")
        return _Out()

    monkeypatch.setattr(explain_cli, "run_explain", fake_run)
    args = _parse(["explain", "--no-sensitivity"])
    assert args.ladder is None
    assert args.func(args) == 0
    assert seen == [packaged_scenario("thousandfold.yaml")]
    captured = capsys.readouterr()
    assert captured.out == "summary\n"
    assert captured.err.startswith("explain: reading ")
    assert "explain: evaluating 2 rungs on 1 workloads and the GPU points ...\n" in captured.err
    args = _parse(["explain", "-q"])
    assert args.func(args) == 0 and capsys.readouterr().err == ""
    args = _parse(["explain", "mine.yaml"])
    assert args.func(args) == 0 and seen[-1] == "mine.yaml"
