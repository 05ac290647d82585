"""The workload (trace) format: what a model does, op by op, step by step.

A :class:`Workload` is the unit the simulator evaluates. It holds

- ``ops``: the op structure of ONE model invocation (one denoising step), stored once;
- ``steps``: how many invocations make one image (sampling steps);
- ``stats``: per-step measured value statistics as arrays ``[steps][ops]`` (``None`` where
  not recorded), so a 50-step trace stays small;
- ``provenance``: where it came from (model, weights source, resolution, versions).

On disk it is gzipped JSON (``*.workload.json.gz``), format ``picojoule.workload`` version
:data:`FORMAT_VERSION`, written with a fixed gzip mtime and sorted keys so that the same
workload always gives the same bytes. See ``docs/workload-format.md``.

The package's modules: ``schema`` (op kinds, statistics, limits, the error), ``core`` (``Op``,
``Workload``), ``checks`` (consistency checks, run on construction), ``files`` (JSON and gzip,
the bounded reader), ``graph`` (producer→consumer edges from the ops' tensor ids). It imports
nothing of ours but itself and never torch: users who only sweep designs over saved traces
need numpy alone.
"""

from __future__ import annotations

from models.workload.checks import validate, validate_op
from models.workload.core import Op, Workload, stats_table
from models.workload.files import TooLargeError, dumps, from_json, load, read_bounded, save, to_json
from models.workload.graph import Edge, consumers, edges, step_inputs
from models.workload.schema import (
    ACT_BLOCK_SHAPES,
    FORMAT_NAME,
    FORMAT_VERSION,
    MAX_COUNT,
    MAX_DECOMPRESSED_BYTES,
    MAX_DIM,
    MAX_MACS_PER_STEP,
    MAX_STEPS,
    MAX_TENSOR_ID,
    OP_KINDS,
    READ_VERSIONS,
    STAT_FIELDS,
    STAT_RANGES,
    WorkloadError,
    block_stat_name,
)

__all__ = [
    "ACT_BLOCK_SHAPES",
    "Edge",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_COUNT",
    "MAX_DECOMPRESSED_BYTES",
    "MAX_DIM",
    "MAX_MACS_PER_STEP",
    "MAX_STEPS",
    "MAX_TENSOR_ID",
    "OP_KINDS",
    "READ_VERSIONS",
    "STAT_FIELDS",
    "STAT_RANGES",
    "Op",
    "TooLargeError",
    "Workload",
    "WorkloadError",
    "block_stat_name",
    "consumers",
    "dumps",
    "edges",
    "from_json",
    "load",
    "read_bounded",
    "save",
    "stats_table",
    "step_inputs",
    "to_json",
    "validate",
    "validate_op",
]
