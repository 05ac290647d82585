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

A packed run precision (``macs_per_pe_per_cycle`` above 1: the RTL tile's INT4 mode) maps every
nest in packed words (:func:`simulator.cost.nest.arch.packed`: ``C`` in words of ``lanes``
consecutive values, a beat per cycle, one access per packed word, one partial-sum update per beat),
the MACs at the packed per-MAC energy (``Hardware.mac_pj``); the notes say what is approximate.

Tensors stay on chip as in the one-level model (:mod:`simulator.cost.nest_homes`): an op's output
for the next op where the workload chains them and it fits and pays
(:mod:`simulator.cost.nest_homes_plan`, the one-level model's keep programme on the nests' costs),
the weights across steps with ``residency`` (:mod:`simulator.nest_evaluation` decides), and fused
attention's scores (``compute.fused_attention``: Q·Kᵀ and P·V mapped with the scores of a block of
query rows in the buffer, the softmax reading them there). A kept tensor costs no DRAM bytes and
takes its room from the level that holds it, for that op's mapping.

Vector work (norms, softmax, elementwise ops, attention's softmax) keeps the one-level model's
vector-unit cost with the same keep decisions, after the array's work within an op. What the nest
path does not model yet is said in the result's ``notes`` (:func:`limits`), never silently: block
skipping, compaction and temporal deltas (ops run dense), DRAM bursts. The columns carry each
op's tiles, units and DRAM read and write time for the event fidelity (``simulator.nest_evaluation``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from accelerator.errors import SimulationError
from accelerator.spec import ArchSpec
from models.workload.graph import edges
from simulator.cost import nest_sparsity
from simulator.cost.analytic import OpCosts
from simulator.cost.hardware import Hardware, hardware
from simulator.cost.mapping import score
from simulator.cost.nest.analysis import NestResult
from simulator.cost.nest.arch import NestArch, from_spec, packed
from simulator.cost.nest.compression import RunLengthCode
from simulator.cost.nest.mapping import NoMappingFits
from simulator.cost.nest.memo import OpRun
from simulator.cost.nest.presets import PRESETS
from simulator.cost.nest.problem import DIMS, C, Problem
from simulator.cost.nest.search import Mapper
from simulator.cost.nest_columns import Nest, columns, reduce_nest, vector_work_of
from simulator.cost.nest_homes import Keep, homes_of, op_archs, op_problems, score_blocks
from simulator.cost.nest_homes_plan import keep_edges
from simulator.cost.residency import Residency, reserve
from simulator.optable import OpTable

#: Blocks of query rows tried per fused attention op, largest first, before it runs unfused.
SCORE_TRIES = 3


@dataclass(frozen=True)
class NestCosts:
    """The costs, the per-op mapping descriptions for the report, and the design's notes."""

    costs: OpCosts
    mapping: dict[int, dict[str, Any]]
    notes: tuple[str, ...]


def new_mapper(arch: ArchSpec) -> Mapper:
    """The mapper ``arch``'s ``mapping`` section asks for (seed, samples, search strategy, restarts)."""
    return Mapper(
        samples=arch.mapping.samples,
        seed=arch.mapping.seed,
        strategy=arch.mapping.search,
        restarts=arch.mapping.restarts,
    )


def limits(
    arch: ArchSpec,
    table: OpTable,
    unfused: tuple[str, ...] | list[str] = (),
    *,
    lanes: int = 1,
    padded: tuple[str, ...] | list[str] = (),
) -> tuple[str, ...]:
    """What the nest path leaves out on this design and workload, one note each; ``unfused``: the
    attention ops whose scores fit no block of their level (run unfused); ``lanes``: MACs per PE
    per cycle of the run precision (packed words, :func:`simulator.cost.nest.arch.packed`);
    ``padded``: the ops with a reduction ``C`` that ``lanes`` does not divide."""
    c = arch.compute
    m = arch.mapping
    search = "fast search" if m.search == "fast" else f"sampled search, {m.samples} samples, seed {m.seed}"
    if m.restarts > 1:
        search += f", best of {m.restarts} searches (mapping.restarts)"
    head = "memory_model nest: "
    engine = f"GEMM-like ops costed by the loop-nest engine ({c.dataflow} preset, {search})"
    notes = [
        head + engine + "; not modelled yet: DRAM burst and row-buffer effects (DRAM at the spec's "
        "sustained bandwidth, its latency once per nest); a tensor kept on chip (inter-op reuse, "
        "resident weights, fused attention's scores) is copied into its level's working tiles as "
        "DRAM's fills would be (an upper bound on that level's writes)"
    ]
    if arch.mapping.conv_view == "im2col" and bool(np.any(table.kind == "conv")):
        notes.append(
            head + "convolutions run as their im2col GEMM (mapping.conv_view: im2col): the filter window R*S*C is "
            "one reduction dimension and the input is the expanded matrix, so its traffic counts each input "
            "pixel once per window position that reads it (no sliding-window reuse)"
        )
    if c.fused_attention and unfused:
        notes.append(
            head + f"fused attention: the scores of {', '.join(unfused[:3])}"
            f"{f' and {len(unfused) - 3} more' if len(unfused) > 3 else ''} fit no block of query rows "
            "beside the tiles; those ops run unfused (scores through DRAM and the vector unit's softmax)"
        )
    if lanes > 1:
        notes.append(
            head + f"packed precision: {lanes} MACs per PE per cycle on consecutive input channels C (a GEMM's "
            "reduction) in one storage word, R and S not packed; zero gating and block skipping keep the "
            "one-level model's per-MAC probabilities, a packed word's read or partial-sum update saved only when "
            "all its lanes' MACs are"
        )
    if padded:
        notes.append(
            head + f"packed precision: the reduction of {', '.join(padded[:3])}"
            f"{f' and {len(padded) - 3} more' if len(padded) > 3 else ''} is not a multiple of {lanes}: its last "
            "word is partial and takes a whole beat, its idle lanes charged as MACs on the zero padding (an "
            "upper bound on the MAC energy: the RTL tile gates a zero nibble)"
        )
    notes.extend(nest_sparsity.notes(arch, table))
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
    residency: Residency | None = None,
) -> NestCosts:
    """Cost every op of ``table`` on ``arch`` with the nest engine (see the module docstring).

    ``residency``: where the weights stay across steps (:func:`simulator.cost.residency.plan`);
    when resident, every op maps with the parameters' room taken from their level and the ops
    whose weights are parameters read none from DRAM (:mod:`simulator.cost.nest_homes`; the fill
    once per image is the caller's, as for the one-level model).

    ``dram_code``: DRAM stores the feature maps ``dram_code.operands`` names in this run-length
    code (:mod:`simulator.cost.nest.compression`; ``simulator.evaluation`` passes the spec's
    ``memory.dram.compression``), at the zero fractions of :func:`fmap_zero_fracs`; the mapper
    sees the coded bytes. Its values must be the activations' width (``value_bits``)."""
    hw = hardware(arch)
    m = arch.mapping
    if mapper is None:
        mapper = new_mapper(arch)
    elif (mapper.seed, mapper.samples, mapper.strategy, mapper.restarts) != (m.seed, m.samples, m.search, m.restarts):
        raise SimulationError(
            f"{arch.name}: the mapper passed in has seed {mapper.seed}, {mapper.samples} samples, strategy "
            f"{mapper.strategy} and {mapper.restarts} restarts, the design asks for seed {m.seed}, {m.samples}, "
            f"{m.search} and {m.restarts} (mapping.seed, mapping.samples, mapping.search, mapping.restarts)"
        )
    if dram_code is not None:
        _check_code_widths(arch.name, dram_code, hw)
    objective = objective or arch.mapping_objective
    if objective not in ("edp", "energy", "latency"):
        raise SimulationError(f"unknown mapping objective {objective!r}; allowed: edp, energy, latency")
    narch = from_spec(arch)
    preset = PRESETS[arch.compute.dataflow]
    homes = homes_of(hw, narch, residency)
    gemm_ops = sorted(set(table.g_op.tolist()))
    w_param = np.zeros(table.n_ops, dtype=bool)
    np.logical_or.at(w_param, table.g_op, table.g_weight_is_param)
    z_in, z_out = fmap_zero_fracs(table) if dram_code is not None else (None, None)
    runs: dict[tuple[int, Keep], list[NestResult] | None] = {}
    run_archs: dict[tuple[int, Keep], list[NestArch]] = {}
    op_nests: dict[tuple[int, int], tuple[Problem, ...]] = {}  # per (op, scores_rows): its keep states share them
    op_values: dict[tuple[int, int], tuple[Problem, ...]] = {}  # the same before packing (C in values)
    bases: dict[int, NestArch] = {}
    # the process's memo keeps each op's keep states across evaluations (SearchMemo.op_run)
    memo = mapper.shared
    settings = mapper.settings()

    def run(i: int, keep: Keep) -> list[NestResult] | None:
        """Op ``i``'s nests mapped with ``keep`` on chip; None when they cannot keep it."""
        if (i, keep) not in runs:
            op = table.workload.ops[i]
            base = bases.get(i)
            if base is None:
                base = narch
                if dram_code is not None and z_in is not None and z_out is not None:
                    base = _coded(narch, dram_code, z_in[i], z_out[i])
                base = bases[i] = memo.canonical(base) if memo is not None else base  # type: ignore[assignment]
            nests = op_nests.get((i, keep.scores_rows))
            if nests is None:
                values = op_problems(op, arch.mapping.conv_view, keep.scores_rows)
                # a packed design maps C in packed words (simulator.cost.nest.arch.packed)
                nests = op_nests[i, keep.scores_rows] = tuple(packed(p, narch.lanes) for p in values)
                op_values[i, keep.scores_rows] = values
            if not nests:
                raise SimulationError(
                    f"op {op.name!r} ({op.kind}) has GEMM rows but no loop nest (simulator.cost.nest.ops)"
                )
            key = (id(base), homes, nests, keep, bool(w_param[i]), preset, objective, settings)
            done = memo.op_run(key) if memo is not None else None
            if done is None:
                try:
                    done = _run_op(base, nests, keep, bool(w_param[i]))
                except NoMappingFits as exc:
                    raise SimulationError(
                        f"op {i} ({op.name} {op.module}): no tile fits the buffers of {arch.name}, even one "
                        f"value of each operand per level (loop-nest engine: {exc}); enlarge the buffer"
                    ) from None
                except SimulationError as exc:
                    raise SimulationError(f"op {i} ({op.name} {op.module}): {exc}") from None
                if memo is not None:
                    memo.keep_op_run(key, done)
            runs[i, keep] = done[0]
            if done[1] is not None:
                run_archs[i, keep] = done[1]
        return runs[i, keep]

    def _run_op(base: NestArch, nests: tuple[Problem, ...], keep: Keep, weights_param: bool) -> OpRun:
        archs = op_archs(base, homes, nests, keep, weights_param)
        if archs is None:
            return None, None
        try:
            return [mapper.best(p, a, preset, objective) for p, a in zip(nests, archs, strict=True)], archs  # type: ignore[arg-type]
        except NoMappingFits:  # a kept tensor leaves too little room: this op cannot keep it
            if keep != Keep():
                return None, archs
            raise

    rows = dict.fromkeys(gemm_ops, 0)  # fused attention: query rows per block of kept scores
    if arch.compute.fused_attention:
        for i in gemm_ops:
            for r in score_blocks(table.workload.ops[i], narch, homes)[:SCORE_TRIES]:
                if run(i, Keep(scores_rows=r)) is not None:
                    rows[i] = r
                    break
    fused = np.zeros(table.n_ops, dtype=bool)
    fused[[i for i, r in rows.items() if r]] = True
    work = vector_work_of(table, hw, fused)

    reduced: dict[tuple[int, int], Nest] = {}  # by (id(result), id(arch)): both live as long as runs

    def reduce(r: NestResult, a: NestArch) -> Nest:
        got = reduced.get((id(r), id(a)))
        if got is None:
            got = reduced[id(r), id(a)] = reduce_nest(r, hw, a)
        return got

    def gemm_objective(i: int, res_in: bool, res_out: bool) -> float:
        keep = Keep(res_in, res_out, res_out and bool(table.out_shared[i]), rows[i])
        results = run(i, keep)
        if results is None:
            return math.inf
        nests = [reduce(r, narch) for r in results]
        cycles = np.asarray(sum(x.cycles for x in nests))
        energy = np.asarray(sum(sum(x.energy_pj.values()) for x in nests))
        return float(score(hw, objective, cycles, energy))

    # the vector unit's kept tensors share their level with resident weights too
    hw_keep = reserve(hw, residency) if residency is not None and residency.resident else hw
    res_in, res_out = keep_edges(table, hw_keep, homes, work, objective, gemm_objective)
    parts: dict[int, list[Nest]] = {}
    info: dict[int, dict[str, Any]] = {}
    mapped: dict[int, list[NestResult]] = {}
    mapped_archs: dict[int, list[NestArch]] = {}
    for i in gemm_ops:
        keep = Keep(bool(res_in[i]), bool(res_out[i]), bool(res_out[i] and table.out_shared[i]), rows[i])
        results = run(i, keep)
        assert results is not None  # the keep decision picks only states that map
        mapped[i], mapped_archs[i] = results, run_archs[i, keep]
        parts[i] = [reduce(r, a) for r, a in zip(results, mapped_archs[i], strict=True)]
        info[i] = {
            "memory_model": "nest",
            "dataflow": arch.compute.dataflow,
            "precision": hw.precision,
            "objective": objective,
            "weights_resident": bool(w_param[i] and homes.weight_bytes > 0),
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
        if narch.lanes > 1:  # the bounds and mapping above count C in packed words
            info[i]["macs_per_pe_per_cycle"] = narch.lanes
            for entry, v in zip(info[i]["nests"], op_values[i, rows[i]], strict=True):
                entry["c_values"] = v.bounds[C]
        if table.kind[i] == "attention":
            info[i]["fused_attention"] = bool(rows[i])
            info[i]["scores_rows_per_block"] = rows[i]
    columns_ = columns(table, hw, parts, objective, res_in=res_in, res_out=res_out, work=work)
    costs = nest_sparsity.apply(table, hw, columns_, mapped, narch, archs=mapped_archs)
    unfused = [table.workload.ops[i].name for i in gemm_ops if table.kind[i] == "attention" and not rows[i]]
    padded = [
        table.workload.ops[i].name for i in gemm_ops if any(v.bounds[C] % narch.lanes for v in op_values[i, rows[i]])
    ]
    return NestCosts(costs, info, limits(arch, table, unfused, lanes=narch.lanes, padded=padded))
