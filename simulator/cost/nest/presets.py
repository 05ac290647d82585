"""Named spatial unrollings (which dimensions go across the array's rows and columns) and the
validation designs built on them.

A preset lists, per array axis, the dimensions the mapper may unroll there (their factors
multiply to at most the axis's extent). Named after the operand that stays in the PEs:

- weight-stationary: reduction (C, R, S) across rows, output channels K across columns
  (SCALE-Sim's WS: a weight per PE, inputs flow across, partial sums down);
- output-stationary: output pixels (P, Q, N) across rows, K across columns;
- input-stationary: C, R, S across rows, output pixels across columns;
- row-stationary (Eyeriss, Chen et al. JSSC 2017 Sec. III/IV-A): filter rows R across PE rows and
  output rows P across columns (a logical PE set), channels C replicated across the spare rows
  and filters K across the spare columns (the paper's folding of C and K onto the array);
  each PE runs a 1-D row convolution over S and Q from its scratchpads. A PE set holds the whole
  filter height, so R is unrolled whole across the rows wherever it fits (``whole_rows``; a
  mapping with part of R, or none, across the rows is not row-stationary).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from accelerator.spec import ArchSpec
from simulator.cost.nest.arch import NestArch, from_spec
from simulator.cost.nest.problem import C, K, N, P, Q, R, S


@dataclass(frozen=True)
class SpatialPreset:
    """Dimensions allowed across the array's rows and columns, in order of preference."""

    name: str
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    #: Dimensions unrolled whole across the rows when their bound fits the rows (row-stationary's R).
    whole_rows: tuple[int, ...] = ()


PRESETS = {
    "weight_stationary": SpatialPreset("weight_stationary", rows=(C, R, S), cols=(K,)),
    "output_stationary": SpatialPreset("output_stationary", rows=(P, Q, N), cols=(K,)),
    "input_stationary": SpatialPreset("input_stationary", rows=(C, R, S), cols=(P, Q, N)),
    "row_stationary": SpatialPreset("row_stationary", rows=(R, C), cols=(P, K), whole_rows=(R,)),
}


def eyeriss(spec: ArchSpec) -> NestArch:
    """Eyeriss (Chen et al., JSSC 2017) as the standalone tables of docs/memory-model.md have it:
    ``spec`` (scenarios/validation/eyeriss.yaml: 12×14 PEs, the spads of Sec. V-C as the per-PE
    level's partitions, 108 kB GLB, DRAM) with 16-bit partial sums as in the paper (the spec
    says so too, ``numerics.accumulators: fp16``; kept here for a spec without it)."""
    return replace(from_spec(spec), word_bits=(16.0, 16.0, 16.0))


def zigzag_tpu_like(spec: ArchSpec) -> NestArch:
    """ZigZag's tpu_like (scenarios/validation/peers/zigzag/tpu_like.yaml): ``spec``
    (scenarios/validation/zigzag-tpu-like.yaml), whose per-PE level has ZigZag's 128 B weight
    register file and 2 B output register as partitions; inputs bypass the PE."""
    return from_spec(spec)
