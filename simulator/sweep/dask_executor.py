"""The Dask executor: a sweep's tasks on a dask.distributed cluster (the ``dask`` extra).

Settings docs/architecture.md (Sweeps) asks for, and why:

- workers run without ``MALLOC_TRIM_THRESHOLD_`` (distributed's nanny sets it by default; it
  fixes glibc's mmap threshold so numpy's large temporaries are mapped and unmapped on every
  op, about halving numpy's speed). Clusters started here drop it; an external cluster that
  still has it gets a warning;
- design points go in batches (one task evaluates many points: per-task scheduling costs
  about a millisecond, a point a few);
- results are consumed with ``as_completed``; every wait has a timeout, so a cluster that loses
  all its workers ends the sweep with an error instead of hanging;
- each worker loads and prepares the workloads once, in a worker plugin.

A worker that dies is replaced by its nanny and its task rescheduled by the scheduler; a batch
that kills workers repeatedly (``KilledWorker``) is split into single points, and a single
point that does is recorded as failed.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from accelerator.errors import SimulationError, SpecError
from simulator.sweep.worker import Outcome, Task, WorkerSetup, WorkerState

#: distributed's nanny puts this in every worker's environment unless told not to.
MALLOC_VAR = "MALLOC_TRIM_THRESHOLD_"
_NO_MALLOC_TRIM = {f"distributed.nanny.pre-spawn-environ.{MALLOC_VAR}": None}


def _plugin_class() -> type:
    from distributed import WorkerPlugin

    class SweepPlugin(WorkerPlugin):  # type: ignore[misc]
        """Holds one worker's prepared workloads for the tasks of one sweep."""

        def __init__(self, worker_setup: WorkerSetup) -> None:
            self.worker_setup = worker_setup
            self.state: WorkerState | None = None

        def setup(self, worker: Any) -> None:
            self.state = WorkerState(self.worker_setup, name=f"dask-{worker.name}")

    return SweepPlugin


def _evaluate_batch(plugin: str, batch: list[Task]) -> list[Outcome]:
    """Runs on a worker: evaluate ``batch`` with the state the sweep's plugin prepared."""
    from distributed import get_worker

    state: WorkerState = getattr(get_worker().plugins[plugin], "state")  # noqa: B009 - set in setup()
    return [state.run(task) for task in batch]


def local_cluster(n_workers: int = 2, *, processes: bool = True, max_attempts: int = 3) -> Any:
    """A LocalCluster on 127.0.0.1 with the sweep settings (one thread per worker)."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({**_NO_MALLOC_TRIM, "distributed.scheduler.allowed-failures": max_attempts - 1}):
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=processes,
            host="127.0.0.1",
            protocol="tcp",
            dashboard_address=None,
        )


_JOBQUEUE = {
    "slurm": "SLURMCluster",
    "pbs": "PBSCluster",
    "lsf": "LSFCluster",
    "sge": "SGECluster",
    "htcondor": "HTCondorCluster",
    "moab": "MoabCluster",
    "oar": "OARCluster",
}

# Batch jobs read dask config from their own machines: write one that drops the variable.
_PROLOGUE = [
    f"unset {MALLOC_VAR}",
    'export DASK_CONFIG="$(mktemp -d)"',
    "printf 'distributed:\\n  nanny:\\n    pre-spawn-environ:\\n      "
    f'{MALLOC_VAR}: null\\n\' > "$DASK_CONFIG/picojoule.yaml"',
]


def jobqueue_cluster(spec: Any) -> Any:
    """A dask-jobqueue cluster from a sweep file's ``execution.jobqueue`` (a JobqueueSpec)."""
    try:
        import dask_jobqueue
    except ModuleNotFoundError:
        raise SpecError("execution.jobqueue needs dask-jobqueue: pip install dask-jobqueue") from None
    options = dict(spec.options)
    options["job_script_prologue"] = [*options.get("job_script_prologue", []), *_PROLOGUE]
    cluster = getattr(dask_jobqueue, _JOBQUEUE[spec.kind])(**options)
    cluster.scale(jobs=spec.jobs)
    return cluster


class DaskExecutor:
    """Evaluates batches of tasks on a dask.distributed cluster."""

    name = "dask"

    def __init__(
        self,
        client: Any,
        setup: WorkerSetup,
        *,
        max_attempts: int = 3,
        batch_size: int | None = None,
        point_timeout_s: float = 600.0,
        owned: Any = None,
    ) -> None:
        self.client = client
        self.owned = owned  # a cluster this executor started and closes
        self.max_attempts = max_attempts
        self.batch_size = batch_size or 16
        self.point_timeout_s = point_timeout_s
        blob = pickle.dumps(setup)
        self.plugin = f"picojoule-sweep-{hashlib.sha256(blob).hexdigest()[:16]}"
        client.register_plugin(_plugin_class()(setup), name=self.plugin)
        self.workers = max(1, sum(client.nthreads().values()))
        env = client.run(os.environ.get, MALLOC_VAR)
        self.warnings = tuple(
            f"dask worker {w} has {MALLOC_VAR}={v}: numpy runs about 2x slower there; "
            f"start workers without it (see docs/sweeps.md)"
            for w, v in sorted(env.items())
            if v is not None
        )

    @classmethod
    def connect(
        cls,
        spec: str,
        setup: WorkerSetup,
        *,
        max_attempts: int = 3,
        batch_size: int | None = None,
        point_timeout_s: float = 600.0,
        jobqueue: Any = None,
    ) -> DaskExecutor:
        try:
            from distributed import Client
        except ModuleNotFoundError:
            raise SpecError("the dask executor needs dask.distributed: pip install 'picojoule[dask]'") from None
        owned = None
        if spec == "dask":
            if jobqueue is None:
                raise SpecError(
                    "--executor dask needs an address (dask://HOST:PORT) or an "
                    "execution.jobqueue section in the sweep file"
                )
            owned = target = jobqueue_cluster(jobqueue)
        else:
            target = "tcp://" + spec.split("://", 1)[1]
        try:
            client = Client(target, timeout="30s")
        except OSError as exc:
            raise SimulationError(f"cannot reach the dask scheduler at {spec}: {exc}") from None
        if owned is None and not client.nthreads():
            client.close()
            raise SimulationError(f"the dask scheduler at {spec} has no workers")
        return cls(
            client,
            setup,
            max_attempts=max_attempts,
            batch_size=batch_size,
            point_timeout_s=point_timeout_s,
            owned=owned,
        )

    def _submit(self, batch: list[Task]) -> Any:
        return self.client.submit(
            _evaluate_batch,
            self.plugin,
            batch,
            pure=False,
            key=f"picojoule-points-{uuid.uuid4().hex}",
        )

    def run(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        from distributed import as_completed, wait

        source = iter(tasks)
        pending: list[list[Task]] = []  # batches to submit first (split after a KilledWorker)
        in_flight: dict[Any, tuple[list[Task], float]] = {}
        done = as_completed([], with_results=False, raise_errors=False)

        def refill() -> None:
            while len(in_flight) < 3 * self.workers:
                batch = (
                    pending.pop() if pending else [t for t in (next(source, None) for _ in range(self.batch_size)) if t]
                )
                if not batch:
                    return
                fut = self._submit(batch)
                in_flight[fut] = (batch, time.monotonic())
                done.add(fut)

        refill()
        tick_s = min(self.point_timeout_s, 30.0)
        while in_flight:
            try:
                wait(list(in_flight), timeout=tick_s, return_when="FIRST_COMPLETED")
            except TimeoutError:
                yield from self._stalled(in_flight)
                refill()
                continue
            for fut in done.next_batch(block=True):
                batch, _ = in_flight.pop(fut, (None, 0.0))
                if batch is None:  # cancelled after a timeout
                    continue
                if fut.status == "finished":
                    yield from fut.result(timeout=tick_s)
                    continue
                exc = fut.exception(timeout=tick_s)
                if type(exc).__name__ == "KilledWorker" and len(batch) > 1:
                    pending.extend([t] for t in batch)  # find the point that kills workers
                    continue
                tries = self.max_attempts if type(exc).__name__ == "KilledWorker" else 1
                for t in batch:
                    yield Outcome(
                        t.key,
                        False,
                        attempts=tries,
                        worker="dask",
                        error=f"{type(exc).__name__}: {exc}",
                    )
            refill()

    def _stalled(self, in_flight: dict[Any, tuple[list[Task], float]]) -> Iterator[Outcome]:
        """Nothing finished for a while: fail when the cluster is gone, time out old batches."""
        if not self.client.nthreads():
            raise SimulationError("the dask cluster has no workers left; rerun the sweep to resume")
        now = time.monotonic()
        for fut, (batch, since) in list(in_flight.items()):
            # a batch waits behind at most the others in flight, hence the factor
            limit_s = 4 * self.point_timeout_s * len(batch)
            if now - since > limit_s:
                fut.cancel()
                del in_flight[fut]
                for t in batch:
                    yield Outcome(
                        t.key,
                        False,
                        worker="dask",
                        error=f"timed out: its batch took over {limit_s:g} s",
                    )

    def close(self) -> None:
        try:
            self.client.unregister_worker_plugin(self.plugin)
        except Exception:  # noqa: BLE001 - the cluster may already be gone; nothing to undo then
            pass
        self.client.close()
        if self.owned is not None:
            self.owned.close()
