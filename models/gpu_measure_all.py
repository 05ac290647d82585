"""Measure every zoo model the GPU baseline needs, end to end and per op, in one run.

``python -m models.gpu_measure_all --out DIR [--device cuda|cpu] [--tiny]`` writes one
measurement file per (model, batch) into DIR, a ``log.txt``, and (``--tar``) packs them into
``measurements.tar.gz`` — the device machine returns at most 8 files. A model that fails is
logged with its traceback and skipped; the others still run.

The plan (model, batch) is :data:`PLAN`: batch 1 is what ``picojoule run`` reports; a larger
batch gives the calibration points at higher utilisation. ``terrain`` (an ONNX model) is
measured only when the zoo exposes a torch runner for it.
"""

from __future__ import annotations

import argparse
import json
import tarfile
import time
import traceback
from pathlib import Path

from models.gpu import measure

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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--dtype", default="bf16", choices=("bf16", "fp16", "fp32"))
    ap.add_argument("--tiny", action="store_true", help="shrunken models, for a CPU check")
    ap.add_argument("--repeat-seconds", type=float, default=3.0)
    ap.add_argument("--only", nargs="*", help="measure only these models")
    ap.add_argument("--tar", action="store_true", help="pack the files into measurements.tar.gz")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "log.txt").open("a", encoding="utf-8")

    def say(msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    written: list[Path] = []
    for model, batch, steps, first in PLAN:
        if args.only and model not in args.only:
            continue
        path = out / f"{model}-b{batch}-{args.dtype}.json"
        t0 = time.perf_counter()
        kw = dict(
            batch=batch if not args.tiny else min(batch, 2), steps=2 if args.tiny else steps,
            dtype=args.dtype, repeat_seconds=0.2 if args.tiny else args.repeat_seconds,
            min_time_s=0.1 if args.tiny else 1.0, idle_seconds=0.2 if args.tiny else 2.0,
            op_repeats=1 if args.tiny else 3, tiny=args.tiny,
        )  # fmt: skip
        doc = None
        for source in dict.fromkeys((first, "builtin")):  # a zoo entry that fails: the built-in
            try:
                doc = measure(model, args.device, path, source=source, **kw)  # type: ignore[arg-type]
                break
            except Exception:  # one model's failure must not cost the others' measurements
                say(
                    f"{model} b{batch} ({source}): FAILED after {time.perf_counter() - t0:.1f} s\n"
                    + traceback.format_exc()
                )
        if doc is None:
            continue
        e = doc["energy"]
        energy = "energy n/a"
        if e.get("available"):
            energy = f"{e['j_per_image']:.3f} J/image, idle {e['idle_w']:.1f} W, avg {e['avg_power_w']:.1f} W"
        lat = doc["latency"]
        say(
            f"{model} b{batch}: {lat['s_per_step'] * 1e3:.3f} ms/step, "
            f"{lat['s_per_image'] * 1e3:.2f} ms/image ({doc['settings']['steps']} steps), "
            f"{energy}; {len(doc['per_op'])} ops, "
            f"sum of op times {sum(t['time_s'] for t in doc['per_op']) * 1e3:.3f} ms "
            f"(GPU spans {sum(t.get('gpu_span_s', 0) for t in doc['per_op']) * 1e3:.3f} ms), "
            f"host {lat['host_s_per_step'] * 1e3:.3f} ms/step; "
            f"{time.perf_counter() - t0:.1f} s"
        )  # fmt: skip
        written.append(path)
    if written:
        last = json.loads(written[-1].read_text(encoding="utf-8"))
        say("device: " + json.dumps(last["device"], sort_keys=True))
    log.close()
    if args.tar:
        with tarfile.open(out / "measurements.tar.gz", "w:gz") as tar:
            for p in written:
                tar.add(p, arcname=p.name)
                p.unlink()
    return 0 if written else 1


if __name__ == "__main__":
    raise SystemExit(main())
