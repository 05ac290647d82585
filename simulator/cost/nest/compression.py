"""Compression of what DRAM stores and moves: Eyeriss's run-length code for feature maps.

Eyeriss (Chen, Krishna, Emer, Sze, IEEE JSSC 52(1), 2017, Sec. IV-B) keeps its ifmaps and ofmaps
in DRAM run-length coded (weights are not): a *pair* is a 5-bit run (up to 31 zeros) followed by a
16-bit value, three pairs per 64-bit word (the last bit marks the last word). The encoder and
decoder sit between the global buffer and the off-chip link, so only DRAM and the link see
coded data; the buffer holds plain words.

What a tensor costs in this code, with its elements zero independently with probability ``z``
(the measured zero fraction; real zeros cluster into longer runs, which usually code smaller):
a pair covers ``min(G, L)`` zeros and one more element, ``G`` the zeros before the next
non-zero (``P(G ≥ k) = zᵏ``) and ``L = 2^run_bits − 1`` the longest run, so a pair covers
``1 + Σ_{k=1..L} zᵏ = (1 − z^(L+1)) / (1 − z)`` elements on average. Bits per element =
``word_bits / pairs_per_word × (1 − z) / (1 − z^(L+1))``; with no zeros that is 64 / 3 = 21.3 bits
per 16-bit value (4/3: the code's overhead), with every element zero ``64 / 3 / 32`` bits.
"""

from __future__ import annotations

from dataclasses import dataclass

from accelerator.errors import SimulationError
from accelerator.spec_dram import DramCompression

#: The feature maps a DRAM code may apply to: each op's input (``act``) and final output (``out``).
CODED_OPERANDS = ("act", "out")


@dataclass(frozen=True)
class RunLengthCode:
    """A run-length code of (run, value) pairs packed into fixed words (bits in the names).

    Defaults: Eyeriss's (JSSC 2017, Sec. IV-B): 5-bit run, 16-bit value, 3 pairs per 64-bit word,
    applied to the fmaps DRAM holds (``operands``: inputs ``act`` and outputs ``out``; weights plain).
    """

    run_bits: int = 5
    value_bits: int = 16
    pairs_per_word: int = 3
    word_bits: int = 64
    operands: tuple[str, ...] = CODED_OPERANDS

    def __post_init__(self) -> None:
        if min(self.run_bits, self.value_bits, self.pairs_per_word, self.word_bits) < 1:
            raise SimulationError(f"run-length code {self}: every field must be a positive integer")
        if not self.operands or not set(self.operands) <= set(CODED_OPERANDS):
            raise SimulationError(f"run-length code {self}: operands must be among {', '.join(CODED_OPERANDS)}")
        if self.pairs_per_word * (self.run_bits + self.value_bits) > self.word_bits:
            raise SimulationError(
                f"run-length code {self}: {self.pairs_per_word} pairs of {self.run_bits} + {self.value_bits} bits "
                f"do not fit a {self.word_bits}-bit word"
            )

    @property
    def max_run(self) -> int:
        """Longest run of zeros one pair encodes."""
        return (1 << self.run_bits) - 1

    def elements_per_pair(self, zero_frac: float) -> float:
        """Mean elements a pair covers when each element is zero with probability ``zero_frac``."""
        z = _fraction(zero_frac)
        n = self.max_run + 1
        if z == 1.0:
            return float(n)
        return (1.0 - z**n) / (1.0 - z)

    def bits_per_element(self, zero_frac: float) -> float:
        """Coded bits per element (whole words' share, the spare bits included)."""
        return self.word_bits / self.pairs_per_word / self.elements_per_pair(zero_frac)

    def ratio(self, zero_frac: float) -> float:
        """Coded bytes per plain byte of ``value_bits``-bit elements (above 1: the code grows them)."""
        return self.bits_per_element(zero_frac) / self.value_bits


#: Eyeriss's code (JSSC 2017, Sec. IV-B).
EYERISS_RLC = RunLengthCode()


def spec_code(compression: DramCompression | None) -> RunLengthCode | None:
    """The code a spec's ``memory.dram.compression`` names (None: DRAM holds plain bytes)."""
    if compression is None:
        return None
    return RunLengthCode(
        run_bits=compression.run_bits,
        value_bits=compression.value_bits,
        pairs_per_word=compression.pairs_per_word,
        word_bits=compression.word_bits,
        operands=tuple(compression.operands),
    )


def _fraction(z: float) -> float:
    if not 0.0 <= z <= 1.0:
        raise SimulationError(f"zero fraction {z} outside [0, 1]")
    return float(z)
