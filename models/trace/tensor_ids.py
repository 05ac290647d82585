"""Tensor identities of one model call: the ids of ``Op.reads`` and ``Op.writes``.

An id names one tensor's data within one call. It follows the tensor's **storage**, not the
Python object: views (``view``, ``reshape``, ``permute``, ``chunk``, ... — ops the recorder
skips) share their base's storage, so whoever reads a view reads the id of the tensor it
views, and the consumer of a reshape reads its producer's tensor. An op that writes a storage
(every output of a recorded op, an in-place op's ``self`` included) gives it a new id, so an
in-place op reads the old version and writes a new one. A storage seen for the first time
as an input (the latent, the timestep, a tensor cached from an earlier call) gets an id with
no producer: a step input.

Entries hold a weak reference to the storage (``StorageWeakRef``: it keeps the storage's
bookkeeping alive but not its data), so a freed storage's address is never taken for a new
storage while its entry lives, and no activation is kept alive by the tracer. Ids count from
0 in order of first appearance: the same op sequence gives the same ids.
"""

from __future__ import annotations

import torch
from torch.multiprocessing.reductions import StorageWeakRef


class TensorIds:
    """Ids of the storages one model call reads and writes; see the module docstring."""

    def __init__(self) -> None:
        self._ids: dict[int, tuple[StorageWeakRef | None, int]] = {}
        self._next = 0

    def _new(self, key: int, ref: StorageWeakRef | None) -> int:
        tensor_id = self._next
        self._next += 1
        self._ids[key] = (ref, tensor_id)
        return tensor_id

    @staticmethod
    def _key(t: torch.Tensor) -> tuple[int, StorageWeakRef | None]:
        """The storage's address and a weak reference to it; a tensor without a storage (a
        subclass or layout that has none) is keyed by the Python object instead."""
        try:
            storage = t.untyped_storage()
        except (RuntimeError, NotImplementedError, TypeError):
            return -id(t), None  # negative: apart from storage addresses
        return int(storage._cdata), StorageWeakRef(storage)

    def read(self, t: torch.Tensor) -> int:
        """The id of the data ``t`` holds now (a new step-input id for data never seen)."""
        key, ref = self._key(t)
        entry = self._ids.get(key)
        if entry is not None and (entry[0] is None or not entry[0].expired()):
            return entry[1]
        return self._new(key, ref)

    def writes(self, outputs: list[torch.Tensor]) -> tuple[int, ...]:
        """New ids for an op's outputs, one per distinct storage, first output first."""
        seen: dict[int, int] = {}
        for t in outputs:
            key, ref = self._key(t)
            if key not in seen:
                seen[key] = self._new(key, ref)
        return tuple(seen.values())
