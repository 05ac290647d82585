"""docs/spec.md is generated from the schema; it must not drift from it."""

from __future__ import annotations

from pathlib import Path

from accelerator.spec_doc import render


def test_spec_reference_is_current() -> None:
    doc = Path(__file__).resolve().parents[3] / "docs" / "spec.md"
    assert doc.read_text(encoding="utf-8") == render(), "regenerate: python -m accelerator.spec_doc > docs/spec.md"
