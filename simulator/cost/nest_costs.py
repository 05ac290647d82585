"""The loop-nest engine behind :func:`simulator.evaluate`: designs with ``mapping.memory_model: nest``.

Every GEMM-like op (convolution, GEMM, attention) becomes its loop nests
(:func:`simulator.cost.nest.ops.problems`: a convolution keeps its seven dimensions, or is its
im2col GEMM with ``mapping.conv_view: im2col``; attention is Q·Kᵀ then P·V), each mapped by one
seeded :class:`~simulator.cost.nest.search.Mapper` per evaluation (cached per shape; a caller may
pass one to share across designs and calls) with the spatial preset named by ``compute.dataflow``
and the design's objective. The
:class:`~simulator.cost.nest.analysis.NestResult` of each nest fills the same :class:`OpCosts`
columns the one-level model fills, with the one-level model's effects where they apply:

- cycles: ``max(compute, every level's transfer time) + exposed fills + DRAM latency``, compute
  including the array's fill and drain per change of its stationary tile
  (:mod:`simulator.cost.nest.systolic`); a shared
  level's transfer time is its accesses at the rate its banks sustain
  (:func:`simulator.cost.hardware.bank_rate`, the bank-conflict model), DRAM at the spec's
  sustained bandwidth, the DRAM latency once per nest that touches DRAM;
- stalls (compute + stalls = cycles): ``sram`` (on-chip levels beyond compute), ``dram`` (DRAM
  beyond both), ``serial`` (fills and drains of single-buffered shared levels), ``fill_drain``
  (the first sub-tile of double-buffered ones, and the DRAM latency);
- energy by component with today's names: ``compute`` (MACs), ``rf`` (all per-PE levels),
  every shared level by name, ``dram``, ``leakage`` (the chip's over the op's latency), and
  ``vector``; zero gating scales the MAC energy as in the one-level model
  (:func:`simulator.cost.sparsity.sparse_state`, dense otherwise);
- traffic bytes per level (per-PE levels included) and DRAM;
- with ``dram_code`` (the spec's ``memory.dram.compression``, passed by ``simulator.evaluation``),
  DRAM holding every op's input and/or output fmaps run-length coded
  (:mod:`simulator.cost.nest.compression`) at their zero fractions (:func:`fmap_zero_fracs`);
  the mapper sees the coded bytes.

Vector work (norms, softmax, elementwise ops, attention's softmax) keeps the one-level model's
vector-unit cost, after the array's work within an op. What the nest path does not model yet is
said in the result's ``notes`` (:func:`limits`), never silently: block skipping, compaction and
temporal deltas (ops run dense), weight residency across steps, inter-op activation reuse, fused
attention, DRAM bursts. The event fidelity is refused
(``simulator.evaluation``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from accelerator.errors import SimulationError
from accelerator.spec import ArchSpec
from models.workload.graph import edges
from simulator.cost import nest_sparsity
from simulator.cost.analytic import OpCosts
from simulator.cost.hardware import Hardware, hardware
from simulator.cost.nest.analysis import NestResult
from simulator.cost.nest.arch import NestArch, from_spec
from simulator.cost.nest.compression import RunLengthCode
from simulator.cost.nest.ops import problems
from simulator.cost.nest.presets import PRESETS
from simulator.cost.nest.problem import DIMS
from simulator.cost.nest.search import Mapper
from simulator.cost.nest_columns import Nest, columns, reduce_nest
from simulator.optable import OpTable


@dataclass(frozen=True)
class NestCosts:
    """The costs, the per-op mapping descriptions for the report, and the design's notes."""

    costs: OpCosts
    mapping: dict[int, dict[str, Any]]
    notes: tuple[str, ...]


def new_mapper(arch: ArchSpec) -> Mapper:
    """The mapper ``arch``'s ``mapping`` section asks for (seed, samples)."""
    return Mapper(samples=arch.mapping.samples, seed=arch.mapping.seed)


def limits(arch: ArchSpec, table: OpTable) -> tuple[str, ...]:
    """What the nest path leaves out on this design and workload, one note each."""
    c, mem = arch.compute, arch.memory
    head = "memory_model nest: "
    notes = [
        head + f"GEMM-like ops costed by the loop-nest engine ({c.dataflow} preset, mapper seed "
        f"{arch.mapping.seed}); not modelled yet: DRAM burst and row-buffer effects "
        "(DRAM at the spec's sustained bandwidth, its latency once per nest), inter-op activation reuse "
        "(every op reads its inputs from DRAM and writes its outputs there)"
    ]
    if arch.mapping.conv_view == "im2col" and bool(np.any(table.kind == "conv")):
        notes.append(
            head + "convolutions run as their im2col GEMM (mapping.conv_view: im2col): the filter window R*S*C is "
            "one reduction dimension and the input is the expanded matrix, so its traffic counts each input "
            "pixel once per window position that reads it (no sliding-window reuse)"
        )
    if c.fused_attention and bool(np.any(table.kind == "attention")):
        notes.append(
            head + "fused attention not modelled yet: Q·Kᵀ and P·V are separate nests and the scores go "
            "through DRAM and the vector unit's softmax"
        )
    notes.extend(nest_sparsity.notes(arch, table))
    if mem.weight_residency == "across_steps":
        notes.append(head + "weight residency across steps not modelled yet: weights come from DRAM every step")
    return tuple(notes)


def fmap_zero_fracs(table: OpTable) -> tuple[np.ndarray, np.ndarray]:
    """Per op, the zero fractions of its input and its output feature maps (mean over steps; a
    step that did not record the statistic counts as 0).

    Inputs: the workload's ``act_zero_frac``. Outputs: the workload's ``out_zero_frac`` where an
    op records it (a layer list may; the tracer does not yet), else the mean ``act_zero_frac`` of
    the ops that read the output (``models.workload.graph``; a workload without tensor ids has
    none), else 0."""
    z_in = table.stat("act_zero_frac").mean(axis=0)
    z_out = np.zeros(table.n_ops)
    readers: dict[int, list[int]] = {}
    for e in edges(table.workload):
        readers.setdefault(e.producer, []).append(e.consumer)
    for i, cons in readers.items():
        z_out[i] = float(np.mean(z_in[cons]))
    recorded = table.has_stat("out_zero_frac").any(axis=0)
    z_out = np.where(recorded, table.stat("out_zero_frac").mean(axis=0), z_out)
    return z_in, z_out


def _coded(narch: NestArch, code: RunLengthCode, z_in: float, z_out: float) -> NestArch:
    """``narch`` with DRAM storing the op's fmaps that ``code.operands`` names in ``code``
    (weights plain, as Eyeriss's filters: JSSC 2017 Sec. IV-B)."""
    ratio_in = code.ratio(z_in) if "act" in code.operands else 1.0
    ratio_out = code.ratio(z_out) if "out" in code.operands else 1.0
    dram = replace(narch.levels[-1], compression=(1.0, ratio_in, ratio_out))
    return replace(narch, levels=(*narch.levels[:-1], dram))


def _check_code_widths(name: str, code: RunLengthCode, hw: Hardware) -> None:
    """The code's values must be the width of the words it codes (its ratio is per plain word)."""
    widths = {"act": (hw.a_bits, "input activations"), "out": (hw.o_bits, "final outputs")}
    for operand in code.operands:
        bits, what = widths[operand]
        if code.value_bits != bits:
            raise SimulationError(
                f"{name}: the DRAM code's {code.value_bits}-bit values do not match the {bits}-bit {what} it "
                f"codes (memory.dram.compression.value_bits; the numerics' formats set the widths)"
            )


def evaluate_table(
    table: OpTable,
    arch: ArchSpec,
    objective: str | None = None,
    mapper: Mapper | None = None,
    *,
    dram_code: RunLengthCode | None = None,
) -> NestCosts:
    """Cost every op of ``table`` on ``arch`` with the nest engine (see the module docstring).

    ``dram_code``: DRAM stores the feature maps ``dram_code.operands`` names in this run-length
    code (:mod:`simulator.cost.nest.compression`; ``simulator.evaluation`` passes the spec's
    ``memory.dram.compression``), at the zero fractions of :func:`fmap_zero_fracs`; the mapper
    sees the coded bytes. Its values must be the activations' width (``value_bits``)."""
    hw = hardware(arch)
    if hw.mpc != 1:
        raise SimulationError(
            f"{arch.name}: memory_model nest models one MAC per PE per cycle; this design runs {hw.precision} "
            f"at {hw.mpc} MACs per PE per cycle (packed precision is not modelled yet): use memory_model one_level"
        )
    if mapper is None:
        mapper = new_mapper(arch)
    elif (mapper.seed, mapper.samples) != (arch.mapping.seed, arch.mapping.samples):
        raise SimulationError(
            f"{arch.name}: the mapper passed in has seed {mapper.seed} and {mapper.samples} samples, the design "
            f"asks for seed {arch.mapping.seed} and {arch.mapping.samples} (mapping.seed, mapping.samples)"
        )
    if dram_code is not None:
        _check_code_widths(arch.name, dram_code, hw)
    objective = objective or arch.mapping_objective
    if objective not in ("edp", "energy", "latency"):
        raise SimulationError(f"unknown mapping objective {objective!r}; allowed: edp, energy, latency")
    narch = from_spec(arch)
    preset = PRESETS[arch.compute.dataflow]
    gemm_ops = sorted(set(table.g_op.tolist()))
    z_in, z_out = fmap_zero_fracs(table) if dram_code is not None else (None, None)
    parts: dict[int, list[Nest]] = {}
    info: dict[int, dict[str, Any]] = {}
    mapped: dict[int, list[NestResult]] = {}
    for i in gemm_ops:
        op = table.workload.ops[i]
        nests = problems(op, arch.mapping.conv_view)
        if not nests:
            raise SimulationError(
                f"op {op.name!r} ({op.kind}) has GEMM rows but no loop nest (simulator.cost.nest.ops)"
            )
        op_arch = narch
        if dram_code is not None and z_in is not None and z_out is not None:
            op_arch = _coded(narch, dram_code, z_in[i], z_out[i])
        results = [mapper.best(p, op_arch, preset, objective) for p in nests]  # type: ignore[arg-type]
        parts[i] = [reduce_nest(r, hw, op_arch) for r in results]
        mapped[i] = results
        info[i] = {
            "memory_model": "nest",
            "dataflow": arch.compute.dataflow,
            "precision": hw.precision,
            "objective": objective,
            "nests": [
                {
                    "name": r.problem.name,
                    "bounds": dict(zip(DIMS, r.problem.bounds, strict=True)),
                    "stride": list(r.problem.stride),
                    "copies": r.problem.copies,
                    "mapping": r.mapping.describe(narch),
                    "utilization": r.utilization,
                }
                for r in results
            ],
        }
    costs = nest_sparsity.apply(table, hw, columns(table, hw, parts, objective), mapped, narch)
    return NestCosts(costs, info, limits(arch, table))
