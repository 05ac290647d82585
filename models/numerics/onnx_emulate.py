"""Numerics emulation on ONNX models: the trained terrain consistency UNet, run by onnxruntime.

The graphs come from :mod:`models.numerics.onnx_rewrite` (quantised weights, fake-quant
activations, temporal-delta inputs). Sampler: multistep consistency sampling (Song et al.,
ICML 2023, Algorithm 1) over the Karras σ schedule of the model zoo's terrain entry
(:func:`models.zoo.terrain.karras_sigmas`: Karras et al., NeurIPS 2022, eq. 5, ρ = 7, from
σ_max = 80 to σ_min = 0.002, the package's constants); one step is the package's own one-step
sampler.

Importing this module imports neither torch nor onnx (:mod:`models.numerics.session` imports it
and loads without the trace extra); the runs import them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from accelerator.errors import SpecError, TraceError
from accelerator.numerics import NumericsSpec, TensorFormat
from models.numerics.onnx_rewrite import build_graph
from models.numerics.quality_model import EmulatedImages
from models.zoo.terrain import NUM_CLASSES, SIGMA_MIN, karras_sigmas, onnx_path


@dataclass
class OnnxTerrain:
    """The terrain consistency UNet (``adaptive-terrain-diffusion``) as a quality model."""

    name: str = "terrain"
    data_range: float = 2.0
    weights: str = "trained: adaptive-terrain-diffusion 0.4.2 (ONNX, MIT)"
    sampler: str = "multistep consistency sampling (Song et al. 2023, Alg. 1), Karras sigmas rho 7, 80 to 0.002"
    resolution_px: int = 128
    threads: int = 2
    _proto: Any = None

    @property
    def proto(self) -> Any:
        if self._proto is None:
            import onnx  # lazy: onnx; this module loads without the trace extra

            self._proto = onnx.load(str(onnx_path()))
        return self._proto

    def _session(self, data: bytes) -> Any:
        import onnxruntime as ort  # lazy: onnxruntime; this module loads without the trace extra

        opts = ort.SessionOptions()
        # Fusions could differ between the plain and the rewritten graph; basic keeps them equal.
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.intra_op_num_threads = self.threads
        return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])

    def _loop(self, call: Any, n: int, steps: int, seed: int) -> np.ndarray:
        """Multistep consistency sampling; ``call(noisy, sigma, labels, step) -> denoised``."""
        rng = np.random.default_rng(seed)
        labels = ((rng.integers(1, NUM_CLASSES + 1, size=n) - 1) / (NUM_CLASSES - 1)).astype(np.float32)
        shape = (n, 1, self.resolution_px, self.resolution_px)
        sigmas = karras_sigmas(steps)
        x = np.zeros(shape, np.float32)
        for i, sigma in enumerate(sigmas):
            z = rng.standard_normal(shape, dtype=np.float32)
            noisy = z * np.float32(sigma) if i == 0 else x + z * np.float32(np.sqrt(sigma**2 - SIGMA_MIN**2))
            x = call(noisy.astype(np.float32), np.full(n, sigma, np.float32), labels, i)
        return np.clip(x, -1.0, 1.0)

    @staticmethod
    def _feeds(noisy: np.ndarray, sigma: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
        return {"noisy": noisy, "sigma": sigma, "difficulty": labels}

    def reference(self, n: int, steps: int, seed: int) -> np.ndarray:
        sess = self._session(self.proto.SerializeToString())
        return self._loop(lambda x, s, y, i: sess.run(["denoised"], self._feeds(x, s, y))[0], n, steps, seed)

    def calibrate(self, numerics: NumericsSpec, n: int, steps: int, seed: int) -> dict[str, float]:
        import torch  # lazy: torch; this module loads without the trace extra

        from models.numerics.operands import percentile  # lazy: torch; this module stays torch-free

        graph = build_graph(self.proto, None)
        sess = self._session(graph.data)
        names = ["denoised", *dict.fromkeys(o.tensor for o in graph.outputs)]
        recorded: dict[str, float] = {}
        prev: dict[str, np.ndarray] = {}
        a, d = numerics.activations, numerics.deltas

        def rng_of(v: np.ndarray, fmt: TensorFormat) -> float:
            t = torch.from_numpy(v)
            return percentile(t, fmt.percentile) if fmt.calibration == "percentile" else float(np.abs(v).max())

        def record(key: str, step: int, r: float) -> None:
            for k in (key, f"{key}@{step}"):
                recorded[k] = max(recorded.get(k, 0.0), r)

        def call(x: np.ndarray, s: np.ndarray, y: np.ndarray, i: int) -> np.ndarray:
            out = dict(zip(names, sess.run(names, self._feeds(x, s, y)), strict=True))
            for o in graph.outputs:
                site, v = o.site, out[o.tensor]
                record(site.key, i, rng_of(v, a))
                if site.weighted:
                    if site.key in prev:
                        record(site.key + ".delta", i, rng_of(v - prev[site.key], d))
                    prev[site.key] = v
            return out["denoised"]

        self._loop(call, n, steps, seed)
        return recorded

    def emulate(self, numerics: NumericsSpec, amax: dict[str, float], n: int, steps: int, seed: int) -> EmulatedImages:
        first = build_graph(self.proto, numerics)
        sessions = [(first, self._session(first.data))]
        if numerics.temporal_delta.enabled:
            later = build_graph(self.proto, numerics, delta=True)
            sessions.append((later, self._session(later.data)))
        counts: dict[str, float] = {}
        prev: list[np.ndarray] = []

        def add(name: str, v: float) -> None:
            counts[name] = counts.get(name, 0.0) + v

        def call(x: np.ndarray, s: np.ndarray, y: np.ndarray, i: int) -> np.ndarray:
            graph, sess = sessions[min(i, len(sessions) - 1)]
            feeds = {**self._feeds(x, s, y), **graph.scale_feeds(amax, i)}
            for p in graph.prev_inputs:
                feeds[p.tensor] = prev[p.output]
            names = [o.tensor for o in graph.outputs]
            res = sess.run(["denoised", *names], feeds)
            acts = res[1:]
            for v in acts:
                add("act_elements", v.size)
                add("act_zeros", float(np.count_nonzero(v == 0)))
            for p in graph.prev_inputs:
                k = p.output
                add("delta_elements", acts[k].size)
                add("delta_zeros", float(np.count_nonzero(acts[k] == prev[k])))
            prev[:] = acts
            out: np.ndarray = res[0]
            return out

        return EmulatedImages(self._loop(call, n, steps, seed), counts)

    def frechet(self, a: np.ndarray, b: np.ndarray) -> float | None:
        return None  # no terrain feature extractor: quality is PSNR / SSIM against the reference

    def data_images(self, n: int | None) -> np.ndarray | None:
        return None


def terrain_model() -> OnnxTerrain:
    try:
        onnx_path()
    except TraceError as exc:  # the wheel is missing: a scenario asked for a model it cannot run
        raise SpecError(str(exc)) from None
    return OnnxTerrain()
