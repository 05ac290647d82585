"""Executors: who evaluates a sweep's tasks. One small protocol, three implementations.

- ``serial``: in the driver process (no workers; a point that crashes Python ends the sweep);
- ``local`` (default): a self-healing pool of worker processes sized to the cores. A worker
  that dies (killed, out of memory, a crash in native code) is replaced; the point it was
  evaluating is tried again, up to ``max_attempts`` times, then recorded as failed with the
  reason; the other points it held go back to the queue;
- ``dask://HOST:PORT``: a dask.distributed cluster (:mod:`simulator.sweep.dask_executor`).

An executor turns tasks into outcomes, in any order, each task exactly once.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from accelerator.errors import SimulationError, SpecError
from simulator.sweep.dask_executor import DaskExecutor
from simulator.sweep.worker import Outcome, Task, WorkerSetup, WorkerState


class Executor(Protocol):
    """Evaluates tasks; yields one :class:`Outcome` per task, in completion order."""

    name: str
    workers: int

    def run(self, tasks: Iterable[Task]) -> Iterator[Outcome]: ...

    def close(self) -> None: ...


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class SerialExecutor:
    """Evaluates in the calling process, one task at a time."""

    name = "serial"
    workers = 1

    def __init__(self, setup: WorkerSetup) -> None:
        self.state = WorkerState(setup, name=f"serial-{os.getpid()}")

    def run(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        for task in tasks:
            yield self.state.run(task)

    def close(self) -> None:
        pass


def _worker_main(conn: Connection, setup: WorkerSetup, name: str) -> None:
    """A pool worker: prepare the workloads once, then evaluate batches until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    try:
        state = WorkerState(setup, name=name)
    except Exception as exc:  # noqa: BLE001 - any setup failure is reported, not raised
        conn.send(("setup_error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", name))
    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):  # the driver is gone
            return
        if batch is None:
            return
        for task in batch:
            try:
                conn.send(state.run(task))
            except (BrokenPipeError, OSError):
                return


class _Worker:
    def __init__(self, ctx: Any, setup: WorkerSetup, serial: int) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.name = f"local-{serial}"
        self.process = ctx.Process(target=_worker_main, args=(child, setup, self.name), daemon=True)
        self.process.start()
        child.close()
        self.held: deque[Task] = deque()  # sent, not yet answered, in the order it evaluates them
        self.since = time.monotonic()  # last sign of progress
        self.ready = False  # its workloads are prepared; only then does it get points

    def stop(self, kill: bool = False) -> None:
        if kill and self.process.is_alive():
            self.process.kill()
        try:
            if not kill:
                self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.conn.close()


def _death(w: _Worker) -> str:
    code = w.process.exitcode
    if code is not None and code < 0:
        return f"worker process killed by {signal.Signals(-code).name}"
    return "worker process died" + (f" (exit code {code})" if code is not None else "")


class _Queue:
    """Tasks still to hand out: points taken back from dead workers first, then the source."""

    def __init__(self, tasks: Iterable[Task]) -> None:
        self.source = iter(tasks)
        self.retry: deque[Task] = deque()

    def take(self, n: int) -> list[Task]:
        batch = [self.retry.popleft() for _ in range(min(n, len(self.retry)))]
        batch += itertools.islice(self.source, n - len(batch))
        return batch

    def empty(self) -> bool:
        if self.retry:
            return False
        head = next(self.source, None)
        if head is None:
            return True
        self.retry.append(head)
        return False


class LocalPoolExecutor:
    """A pool of worker processes that replaces a worker when it dies."""

    name = "local"

    def __init__(
        self,
        setup: WorkerSetup,
        workers: int | None = None,
        *,
        max_attempts: int = 3,
        batch_size: int | None = None,
        point_timeout_s: float = 600.0,
    ) -> None:
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        self.ctx = mp.get_context(method)
        if method == "forkserver":  # fork from a server that has already imported the simulator
            self.ctx.set_forkserver_preload(["simulator.sweep.worker"])
        self.setup = setup
        self.workers = workers or available_cores()
        self.max_attempts = max_attempts
        self.batch_size = batch_size or 2
        self.point_timeout_s = point_timeout_s
        self.restarts = 0
        self._serial = 0
        self._attempts: dict[str, int] = {}  # evaluations started, of points retried after a death
        self._pool: list[_Worker] = []  # started on the first task, so a finished sweep starts none

    def _spawn(self) -> _Worker:
        self._serial += 1
        return _Worker(self.ctx, self.setup, self._serial)

    def worker_pids(self) -> list[int]:
        return [w.process.pid for w in self._pool if w.process.pid is not None]

    def run(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        queue = _Queue(tasks)
        self._attempts = {}
        startup_deaths = 0
        while True:
            if not any(w.held for w in self._pool) and queue.empty():
                return
            if not self._pool:
                self._pool = [self._spawn() for _ in range(self.workers)]
            self._feed(queue)
            owner = {w.conn: w for w in self._pool} | {w.process.sentinel: w for w in self._pool}
            dead: dict[_Worker, str | None] = {}  # None: it died; else why it was stopped
            for w in dict.fromkeys(owner[obj] for obj in wait(list(owner), timeout=1.0)):
                answers, broken = self._drain(w)
                yield from self._accept(w, answers)
                if broken or not w.process.is_alive():
                    dead[w] = None
            now = time.monotonic()
            for w in self._pool:
                if w.held and w not in dead and now - w.since > self.point_timeout_s:
                    dead[w] = f"timed out after {self.point_timeout_s:g} s"
            for w, why in dead.items():
                w.stop(kill=True)
                reason = why or _death(w)
                if not w.ready:
                    startup_deaths += 1
                    if startup_deaths > 2 * self.workers:
                        raise SimulationError(
                            f"local sweep workers die while starting ({reason}). A script "
                            "that calls run_sweep must do so under "
                            '`if __name__ == "__main__":` (workers import the main module), '
                            "or use --executor serial"
                        )
                yield from self._replace(w, reason, queue)

    def _feed(self, queue: _Queue) -> None:
        """Keep two batches queued at every ready worker so none waits for the driver."""
        for w in self._pool:
            while w.ready and len(w.held) < 2 * self.batch_size:
                batch = queue.take(self.batch_size)
                if not batch:
                    return
                if not w.held:
                    w.since = time.monotonic()
                w.held.extend(batch)
                try:
                    w.conn.send(batch)
                except OSError:  # it died; the sentinel reports it and its points go back
                    break

    @staticmethod
    def _drain(w: _Worker) -> tuple[list[Outcome], bool]:
        """Every message waiting from ``w``, and whether its pipe is broken."""
        answers: list[Outcome] = []
        try:
            while w.conn.poll():
                msg = w.conn.recv()
                if isinstance(msg, Outcome):
                    answers.append(msg)
                elif msg[0] == "ready":
                    w.ready = True
                else:
                    raise SpecError(f"a sweep worker could not prepare the workloads: {msg[1]}")
        except (EOFError, OSError):
            return answers, True
        return answers, False

    def _accept(self, w: _Worker, answers: list[Outcome]) -> Iterator[Outcome]:
        for outcome in answers:
            task = w.held.popleft()
            assert task.key == outcome.key, "a worker answers its tasks in order"
            w.since = time.monotonic()
            tries = self._attempts.pop(task.key, 1)
            yield outcome if tries == 1 else replace(outcome, attempts=tries)

    def _replace(self, w: _Worker, reason: str, queue: _Queue) -> Iterator[Outcome]:
        """Replace a stopped worker; charge the point it was evaluating an attempt."""
        self._pool[self._pool.index(w)] = self._spawn()
        self.restarts += 1
        if not w.held:
            return
        victim, *rest = w.held
        tries = self._attempts[victim.key] = self._attempts.get(victim.key, 1) + 1
        queue.retry.extendleft(reversed(rest))
        if tries > self.max_attempts:
            del self._attempts[victim.key]
            yield Outcome(
                victim.key,
                False,
                attempts=self.max_attempts,
                worker=w.name,
                error=f"{reason}, {self.max_attempts} times, while evaluating this point",
            )
        else:
            queue.retry.appendleft(victim)

    def close(self) -> None:
        for w in self._pool:  # a worker still holding points was interrupted: do not wait for it
            w.stop(kill=bool(w.held))
        self._pool = []


def open_executor(
    spec: str,
    setup: WorkerSetup,
    *,
    workers: int | None = None,
    max_attempts: int = 3,
    batch_size: int | None = None,
    point_timeout_s: float = 600.0,
    jobqueue: Any = None,
) -> Executor:
    """The executor named by ``spec``: ``serial``, ``local``, ``dask://HOST:PORT`` or ``dask``
    (a dask-jobqueue cluster described by the sweep file's ``execution.jobqueue``)."""
    if spec == "serial":
        return SerialExecutor(setup)
    if spec == "local":
        return LocalPoolExecutor(
            setup,
            workers,
            max_attempts=max_attempts,
            batch_size=batch_size,
            point_timeout_s=point_timeout_s,
        )
    if spec == "dask" or spec.startswith(("dask://", "tcp://")):
        return DaskExecutor.connect(
            spec,
            setup,
            max_attempts=max_attempts,
            batch_size=batch_size,
            point_timeout_s=point_timeout_s,
            jobqueue=jobqueue,
        )
    raise SpecError(
        f"unknown executor {spec!r}; allowed: serial, local, dask://HOST:PORT, dask "
        "(a dask-jobqueue cluster from the sweep file)"
    )
