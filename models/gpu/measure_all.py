"""Measure every zoo model the GPU baseline needs, end to end and per op, in one run.

``python -m models.gpu.measure_all --out DIR [--device cuda|cpu] [--tiny] [--mode eager|graph|both]
[--dtype bf16|fp16|fp32|fp8] [--also-fp8] [--max-minutes M] [--tar]`` writes one measurement
file per (model, batch, dtype, mode), ``{model}-b{batch}-{dtype}-{mode}.json``, into DIR, a
``log.txt``, and (``--tar``) packs them into ``measurements.tar.gz`` — the device machine
returns at most 8 files. A model that fails is logged with its traceback and skipped; the
others still run.

The plan (model, batch) is :data:`PLAN`: batch 1 is what ``picojoule run`` reports; a larger
batch gives the calibration points at higher utilisation. By default every entry is
measured in eager mode *and* CUDA-graph mode from one model build (``models.gpu.harness.measure_modes``:
idle power and the eager per-op profile are shared). ``--also-fp8`` adds :data:`FP8_PLAN`
in fp8, graph mode. On the CPU graph mode is skipped (CUDA graphs need CUDA) and fp8 runs
eager. The run prints a time estimate first and skips (and logs) entries that would end
past ``--max-minutes``, so it never reaches the device machine's 10-minute command limit.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import time
import traceback
from pathlib import Path
from typing import Any

from models.gpu.harness import measure_modes

#: (model, batch, sampling steps, source) measured on the GPU. The zoo's VAE decodes through
#: ``decode()``, which the device hooks on ``forward`` do not see: the built-in config runs.
PLAN: tuple[tuple[str, int, int, str], ...] = (
    ("microbench", 1, 1, "builtin"),
    ("ddpm-cifar10", 1, 50, "auto"),
    ("ddpm-cifar10", 16, 50, "auto"),
    ("dit-s-2", 1, 50, "auto"),
    ("dit-s-2", 16, 50, "auto"),
    ("sd15-unet", 1, 25, "auto"),
    ("sd15-unet", 4, 25, "auto"),
    ("sd-vae-decoder", 1, 1, "builtin"),
    ("terrain", 1, 50, "auto"),
)
#: Entries measured again in fp8 (graph mode) with ``--also-fp8``.
FP8_PLAN: tuple[tuple[str, int, int, str], ...] = (
    ("ddpm-cifar10", 1, 50, "auto"),
    ("ddpm-cifar10", 16, 50, "auto"),
    ("sd15-unet", 1, 25, "auto"),
)
#: Models without a shrunken variant (terrain is one trained model; ``build_target`` ignores
#: ``tiny`` for it): ``--tiny`` skips them — full terrain in bf16 takes ~30 s a step on a CPU.
NO_TINY = frozenset({"terrain"})
#: Seconds one eager entry took on the H100 (``scenarios/gpu/h100-sxm-2026-11-27/run2/log.txt``:
#: build, idle power, timing, 3 s energy, 3 profiled steps); unknown models get the default.
EAGER_S: dict[tuple[str, int], float] = {
    ("microbench", 1): 17, ("ddpm-cifar10", 1): 31, ("ddpm-cifar10", 16): 17, ("dit-s-2", 1): 15,
    ("dit-s-2", 16): 15, ("sd15-unet", 1): 30, ("sd15-unet", 4): 22, ("sd-vae-decoder", 1): 11,
}  # fmt: skip
DEFAULT_EAGER_S = 25.0
#: Seconds graph mode adds to an entry beyond its energy span: capture, warm-up, ≥1 s step and
#: ≥1 s loop timing (an estimate: graph mode has not run on a GPU yet).
GRAPH_EXTRA_S = 5.0
#: Python start-up, imports, CUDA context, tar: once per run.
STARTUP_S = 20.0


def estimate_s(model: str, batch: int, modes: list[str], repeat_seconds: float) -> float:
    """Expected device seconds of one entry measured in ``modes`` (one build, shared per-op)."""
    base = EAGER_S.get((model, batch), DEFAULT_EAGER_S)
    graph = GRAPH_EXTRA_S + repeat_seconds
    if modes == ["graph"]:  # no eager timing and energy, the rest as eager
        return base - 3.0 + graph
    return base + (graph if "graph" in modes else 0.0)


def _jobs(args: argparse.Namespace) -> list[tuple[str, int, int, str, str, list[str]]]:
    """(model, batch, steps, source, dtype, modes) in run order."""
    modes = ["eager", "graph"] if args.mode == "both" else [args.mode]
    if args.device == "cpu":
        modes = [m for m in modes if m != "graph"]
    jobs = [(m, b, s, src, args.dtype, modes) for m, b, s, src in PLAN if not args.only or m in args.only]
    if args.also_fp8 and args.dtype != "fp8":
        fp8_modes = ["graph"] if args.device == "cuda" else ["eager"]
        jobs += [(m, b, s, src, "fp8", fp8_modes) for m, b, s, src in FP8_PLAN if not args.only or m in args.only]
    return [j for j in jobs if j[5]]


def _line(model: str, batch: int, doc: dict[str, Any]) -> str:
    e, lat, st = doc["energy"], doc["latency"], doc["settings"]
    energy = "energy n/a"
    if e.get("available"):
        energy = f"{e['j_per_image']:.3f} J/image, idle {e['idle_w']:.1f} W, avg {e['avg_power_w']:.1f} W"
    graph = ""
    if "graph" in doc:
        g = doc["graph"]
        graph = f" [graph of {g['captured']}: {g['replays_per_sample']} replays, {g['eager_calls_per_sample']} eager]"
    return (
        f"{model} b{batch} {st['dtype']} {st['mode']}: {lat['s_per_step'] * 1e3:.3f} ms/step, "
        f"{lat['s_per_image'] * 1e3:.2f} ms/image ({st['steps']} steps), {energy}; {len(doc['per_op'])} ops, "
        f"sum of op times {sum(t['time_s'] for t in doc['per_op']) * 1e3:.3f} ms "
        f"(GPU spans {sum(t.get('gpu_span_s', 0) for t in doc['per_op']) * 1e3:.3f} ms), "
        f"host {lat['host_s_per_step'] * 1e3:.3f} ms/step{graph}"
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--dtype", default="bf16", choices=("bf16", "fp16", "fp32", "fp8"))
    ap.add_argument("--mode", default="both", choices=("eager", "graph", "both"),
                    help="both (default): eager and CUDA-graph files from one build per entry")  # fmt: skip
    ap.add_argument("--also-fp8", action="store_true", help="also measure FP8_PLAN in fp8, graph mode")
    ap.add_argument("--tiny", action="store_true", help="shrunken models, for a CPU check")
    ap.add_argument("--repeat-seconds", type=float, default=3.0, help="span of each energy run, s")
    ap.add_argument("--max-minutes", type=float, default=8.5,
                    help="skip entries that would end after this many minutes (default 8.5)")  # fmt: skip
    ap.add_argument("--only", nargs="*", help="measure only these models")
    ap.add_argument("--tar", action="store_true", help="pack the files into measurements.tar.gz")
    args = ap.parse_args(argv)
    if args.mode == "graph" and args.device != "cuda":
        print("error: --mode graph needs --device cuda (CUDA graphs capture GPU kernels)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "log.txt").open("a", encoding="utf-8")

    def say(msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    jobs = _jobs(args)
    if args.tiny:
        for name in sorted({j[0] for j in jobs} & NO_TINY):
            say(f"{name}: no tiny variant, skipped with --tiny (measure it with --only {name})")
        jobs = [j for j in jobs if j[0] not in NO_TINY]
    est = [estimate_s(m, b, modes, args.repeat_seconds) for m, b, _, _, _, modes in jobs]
    say(
        f"plan: {len(jobs)} entries, {sum(len(j[5]) for j in jobs)} measurements; estimated "
        f"{(STARTUP_S + sum(est)) / 60:.1f} min on an H100 (run2 eager timings + graph extras); "
        f"budget --max-minutes {args.max_minutes:g}"
        + ("; CPU: graph mode skipped" if args.device == "cpu" and args.mode != "eager" else "")
    )  # fmt: skip
    written: list[Path] = []
    for (model, batch, steps, first, dtype, modes), need_s in zip(jobs, est, strict=True):
        used = time.perf_counter() - start
        if used + (0.0 if args.tiny else need_s) > args.max_minutes * 60:  # tiny: estimates are for the GPU
            say(f"{model} b{batch} {dtype} {'+'.join(modes)}: SKIPPED, {used / 60:.1f} min used and "
                f"~{need_s:.0f} s needed exceed --max-minutes {args.max_minutes:g}")  # fmt: skip
            continue
        outs = {m: out / f"{model}-b{batch}-{dtype}-{m}.json" for m in modes}
        t0 = time.perf_counter()
        kw = dict(
            batch=batch if not args.tiny else min(batch, 2), steps=2 if args.tiny else steps,
            dtype=dtype, repeat_seconds=0.2 if args.tiny else args.repeat_seconds,
            min_time_s=0.1 if args.tiny else 1.0, idle_seconds=0.2 if args.tiny else 2.0,
            op_repeats=1 if args.tiny else 3, tiny=args.tiny,
        )  # fmt: skip
        docs = None
        for source in dict.fromkeys((first, "builtin")):  # a zoo entry that fails: the built-in
            try:
                docs = measure_modes(model, args.device, outs, source=source, **kw)  # type: ignore[arg-type]
                break
            except Exception:  # one model's failure must not cost the others' measurements
                say(
                    f"{model} b{batch} {dtype} ({source}): FAILED after {time.perf_counter() - t0:.1f} s\n"
                    + traceback.format_exc()
                )
        if docs is None:
            continue
        for mode, doc in docs.items():
            say(_line(model, batch, doc))
            written.append(outs[mode])
        for mode in outs.keys() - docs.keys():  # e.g. a forward that cannot be captured as a graph
            failure = next((n for d in docs.values() for n in d["notes"] if n.startswith(f"{mode} mode FAILED")), "")
            say(f"{model} b{batch} {dtype} {mode}: {failure or 'FAILED'}")
        say(f"{model} b{batch} {dtype}: {time.perf_counter() - t0:.1f} s (estimated {need_s:.0f} s)")
    if written:
        last = json.loads(written[-1].read_text(encoding="utf-8"))
        say("device: " + json.dumps(last["device"], sort_keys=True))
    say(f"total {(time.perf_counter() - start) / 60:.2f} min, {len(written)} files")
    log.close()
    if args.tar:
        with tarfile.open(out / "measurements.tar.gz", "w:gz") as tar:
            for p in written:
                tar.add(p, arcname=p.name)
                p.unlink()
    return 0 if written else 1


if __name__ == "__main__":
    raise SystemExit(main())
