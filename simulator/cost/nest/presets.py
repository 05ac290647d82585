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
  each PE runs a 1-D row convolution over S and Q from its scratchpads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from accelerator.spec import ArchSpec
from simulator.cost.nest.arch import NestArch, from_spec, per_pe_level
from simulator.cost.nest.problem import C, K, N, P, Q, R, S


@dataclass(frozen=True)
class SpatialPreset:
    """Dimensions allowed across the array's rows and columns, in order of preference."""

    name: str
    rows: tuple[int, ...]
    cols: tuple[int, ...]


PRESETS = {
    "weight_stationary": SpatialPreset("weight_stationary", rows=(C, R, S), cols=(K,)),
    "output_stationary": SpatialPreset("output_stationary", rows=(P, Q, N), cols=(K,)),
    "input_stationary": SpatialPreset("input_stationary", rows=(C, R, S), cols=(P, Q, N)),
    "row_stationary": SpatialPreset("row_stationary", rows=(R, C), cols=(P, K)),
}


def eyeriss(spec: ArchSpec) -> NestArch:
    """Eyeriss (Chen et al., JSSC 2017): ``spec`` (scenarios/validation/eyeriss.yaml: 12×14 PEs,
    108 kB GLB, DRAM) with the per-PE scratchpads of Sec. V-C: filter 224 × 16 b, ifmap 12 × 16 b,
    psum 24 × 16 b, each priced by the project's SRAM model at the spec's node; the scratchpads
    together move the spec's per-PE bandwidth; partial sums are 16 b as in the paper."""
    spad_bw = next(lv.bandwidth_bytes_per_cycle for lv in spec.memory.levels if lv.per_pe)
    spad = per_pe_level(
        spec, "spad", operand_bytes=(224 * 2, 12 * 2, 24 * 2), width_bits=16, bandwidth_bytes_per_cycle=spad_bw
    )
    # Partial sums are 16 b in Eyeriss (the psum spad is 24 × 16 b), not the spec's default
    # accumulator format.
    return replace(from_spec(spec, [spad]), word_bits=(16.0, 16.0, 16.0))


def zigzag_tpu_like(spec: ArchSpec) -> NestArch:
    """ZigZag's tpu_like (tests/validation/peers/zigzag/tpu_like.yaml): ``spec``
    (scenarios/validation/zigzag-tpu-like.yaml) with its per-PE storage as ZigZag has it: a
    128 B weight register file (0.095 pJ per 8-bit access) and a 2 B output register (0.021 pJ
    per 16-bit access); inputs bypass the PE."""
    rf = per_pe_level(
        spec,
        "rf",
        operand_bytes=(128, 0, 2),
        width_bits=8,
        bandwidth_bytes_per_cycle=3.0,
        read_energy_pj=(0.095, 0.0, 0.021 / 2),
        write_energy_pj=(0.095, 0.0, 0.021 / 2),
    )
    return from_spec(spec, [rf])
