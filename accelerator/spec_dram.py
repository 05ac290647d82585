"""Off-chip memory in the accelerator spec: DRAM kind or technology, bandwidth, energy, and the
code it may store feature maps in (``memory.dram``; re-exported by ``accelerator.spec``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from accelerator.spec_base import (
    MAX_DRAM_GB_PER_S,
    MAX_DRAM_LATENCY_NS,
    MAX_DRAM_PJ_PER_BIT,
    MAX_WIDTH_BITS,
    MIN_DRAM_GB_PER_S,
    DramKind,
    LocatedError,
    OffChipTechnology,
    YamlTuple,
)
from accelerator.spec_base import Strict as _Strict
from accelerator.tech import PRECISION_BITS
from accelerator.tech.memory import off_chip_technology

#: Bounds of ``memory.dram.compression`` (reasons beside each; generous, they catch typos).
MAX_RUN_BITS = 16  # a 16-bit run field codes 65,535 zeros, more than any fmap row; Eyeriss uses 5
MAX_VALUE_BITS = max(PRECISION_BITS.values())  # the widest operand precision (fp32)
MAX_PAIRS_PER_WORD = 64  # 64 one-bit pairs fill a 64-bit word; Eyeriss packs 3


class DramCompression(_Strict):
    """A code DRAM stores feature maps in (Eyeriss, JSSC 2017 Sec. IV-B: run-length coded ifmaps
    and ofmaps, 5-bit run + 16-bit value, 3 pairs per 64-bit word; weights plain). The encoder
    and decoder sit between the outermost on-chip level and the off-chip link: DRAM and the link
    see coded bytes, the buffers plain ones (``simulator.cost.nest.compression``)."""

    format: Literal["run_length"] = Field(
        ...,
        description="run_length: (run, value) pairs, a run of up to 2^run_bits - 1 zeros then one value, "
        "pairs_per_word pairs packed in a word_bits word (the spare bits unused); the coded size follows "
        "from each op's zero fractions (workload statistics act_zero_frac, out_zero_frac)",
    )
    run_bits: int = Field(
        ..., ge=1, le=MAX_RUN_BITS, description="bits of a pair's zero-run count (Eyeriss: 5, runs of up to 31)"
    )
    value_bits: int = Field(
        ...,
        ge=1,
        le=MAX_VALUE_BITS,
        description="bits of a pair's value: the activation width of compute.precision (Eyeriss: 16)",
    )
    pairs_per_word: int = Field(..., ge=1, le=MAX_PAIRS_PER_WORD, description="pairs packed in one word (Eyeriss: 3)")
    word_bits: int = Field(
        ...,
        ge=1,
        le=MAX_WIDTH_BITS,
        description="bits of the word pairs are packed in, the unit DRAM stores (Eyeriss: 64); at least "
        "pairs_per_word x (run_bits + value_bits)",
    )
    operands: Annotated[tuple[Literal["act", "out"], ...], YamlTuple] = Field(
        ("act", "out"),
        min_length=1,
        max_length=2,
        description="which feature maps DRAM codes: act (each op's input), out (each op's final output; "
        "spilled partial sums stay plain). Weights are never coded: Eyeriss codes its fmaps only, and the "
        "coded size needs a zero fraction the workload records for activations",
    )

    @model_validator(mode="after")
    def _fits(self) -> DramCompression:
        if len(set(self.operands)) != len(self.operands):
            raise LocatedError(("operands",), f"operands repeat: {list(self.operands)}; allowed: act, out, once each")
        used = self.pairs_per_word * (self.run_bits + self.value_bits)
        if used > self.word_bits:
            raise LocatedError(
                ("pairs_per_word",),
                f"{self.pairs_per_word} pairs of {self.run_bits} + {self.value_bits} bits need {used} bits, "
                f"more than word_bits {self.word_bits}; allowed: at most "
                f"{self.word_bits // (self.run_bits + self.value_bits)} pairs",
            )
        return self


def dram_compression_problem(
    dram: DramSpec, precision: str, memory_model: str
) -> tuple[tuple[str | int, ...], str] | None:
    """(location below ``memory.dram``, message) when ``dram.compression`` does not fit the design
    (its values are not the activations' width, or the memory model does not apply it); None when
    it fits or is absent."""
    code = dram.compression
    if code is None:
        return None
    if memory_model != "nest":
        return ("compression",), (
            "memory.dram.compression is modelled by the nest memory model only (mapping.memory_model: nest); "
            "the one_level model moves plain bytes"
        )
    bits = PRECISION_BITS[precision]
    if code.value_bits != bits:
        return ("compression", "value_bits"), (
            f"{code.value_bits}-bit values code {precision} activations of {bits} bits: the coded size is "
            f"priced per activation, so the widths must agree; allowed: {bits}"
        )
    return None


class DramSpec(_Strict):
    """Off-chip memory."""

    kind: DramKind | None = Field(
        None,
        description="DRAM kind: picks the cited energy row and the JEDEC organisation (burst, page, row miss) "
        "of accelerator/tech/energy_45nm.yaml; required unless technology is given",
    )
    technology: OffChipTechnology | None = Field(
        None,
        description="off-chip memory technology, a row of accelerator/tech/memory_tech.yaml off_chip (lpddr5x, "
        "...) or an energy_45nm.yaml DRAM kind: its pJ/bit incl. I/O and its organisation; kind, when also "
        "given, must be the row's organisation",
    )
    bandwidth_gb_per_s: float = Field(
        ..., ge=MIN_DRAM_GB_PER_S, le=MAX_DRAM_GB_PER_S, description="peak bandwidth in GB/s (1e9 bytes/s)"
    )
    energy_pj_per_bit: float | None = Field(
        None, gt=0, le=MAX_DRAM_PJ_PER_BIT, description="access energy per bit incl. I/O; default from the cited table"
    )
    efficiency: float = Field(0.8, gt=0, le=1, description="sustained / peak bandwidth (row-buffer and refresh losses)")
    latency_ns: float = Field(100.0, ge=0, le=MAX_DRAM_LATENCY_NS, description="access latency, paid once per op")
    compression: DramCompression | None = Field(
        None,
        description="DRAM stores feature maps coded (Eyeriss's run-length code); the bytes DRAM stores and "
        "moves are the coded ones, at each op's zero fractions. mapping.memory_model nest only, value_bits "
        "equal to compute.precision's width; default: plain bytes",
    )

    @model_validator(mode="after")
    def _kind_or_technology(self) -> DramSpec:
        if self.technology is None:
            if self.kind is None:
                raise ValueError("give kind (a DRAM kind) or technology (a memory_tech.yaml off-chip row)")
            return self
        org = off_chip_technology(self.technology).dram_kind
        if self.kind is not None and self.kind != org:
            raise LocatedError(
                ("kind",), f"technology {self.technology} has the {org} organisation; allowed: {org} or leave it out"
            )
        return self

    @property
    def organisation_kind(self) -> str:
        """The energy_45nm.yaml ``dram_kinds`` row of this memory (burst, page, row miss)."""
        if self.technology is not None:
            return off_chip_technology(self.technology).dram_kind
        assert self.kind is not None  # the validator requires one of the two
        return self.kind
