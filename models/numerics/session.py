"""Run a real model's whole sampling loop with a design's numerics and measure image quality.

The flow for one design (``quality_run``):

1. the full-precision reference images from seed ``seed`` (cached in a :class:`QualitySession`);
2. calibration: reference runs on ``calibration_images`` images from seed ``seed + 1000``
   record each activation operand's range (max |x|, or a percentile), and the range of its
   step-to-step delta; the table goes into the output;
3. the emulated run from the same seed and noise (:mod:`models.numerics.emulate` for torch
   models, :mod:`models.numerics.onnx_emulate` for ONNX ones);
4. PSNR / SSIM against the reference, Fréchet distance on the digits classifier's features,
   and the zero / delta fractions measured under these numerics.

Models: ``digits-ddpm`` (trained, committed weights), ``digits-random`` (the same UNet,
random init, seed 0: shapes only, for tests), ``terrain`` (the trained ONNX consistency UNet of
``adaptive-terrain-diffusion``). :func:`quality_objective` is the hook for sweeps.

Importing this module imports no torch, onnx or diffusers (sweeps and the simulator import it
without the trace extra); a model's code is imported when the model is loaded or run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from accelerator.errors import SpecError
from accelerator.numerics import NumericsSpec, arch_numerics
from models.numerics.metrics import compare, digits_frechet
from models.numerics.onnx_emulate import terrain_model
from models.numerics.quality_model import EmulatedImages, QualityModel

if TYPE_CHECKING:
    import torch

    from accelerator.spec import ArchSpec

CALIBRATION_SEED_OFFSET = 1000
"""Calibration images come from seed ``seed + 1000``, so they never overlap the judged ones."""

QUALITY_MODELS = ("digits-ddpm", "digits-random", "terrain")

SAMPLERS = {
    "ddim": "DDIM, eta 0, trailing timestep spacing (diffusers DDIMScheduler)",
    "ddpm": "DDPM ancestral, trailing timestep spacing (diffusers DDPMScheduler)",
}
"""The digits samplers in words (``models.zoo.digits.sample_digits``)."""


UNetCall = Callable[["torch.Tensor", "torch.Tensor", int], "torch.Tensor"]


@dataclass
class TorchSampler:
    """A torch model plus its sampling loop (``sample(unet_fn, n, steps, seed) -> images``)."""

    name: str
    model: Any  # torch.nn.Module
    call: UNetCall  # the plain model call of one step
    sample: Callable[[UNetCall, int, int, int], torch.Tensor]
    data_range: float = 2.0
    weights: str = "unknown"
    trained_digits: bool = False  # images are 16x16 digits: Fréchet distance applies
    sampler: str = "unknown"  # the sampling loop, in words (steps-sweep files record it)

    def _run(self, state: Any, n: int, steps: int, seed: int) -> torch.Tensor:
        from models.numerics.emulate import NumericsMode  # lazy: torch; session loads without the trace extra

        def fn(x: torch.Tensor, t: torch.Tensor, i: int) -> torch.Tensor:
            state.begin_call()
            with NumericsMode(state):
                return self.call(x, t, i)

        return self.sample(fn, n, steps, seed)

    def _state(self, numerics: NumericsSpec, **kw: Any) -> Any:
        from models.numerics.operands import EmulationState  # lazy: torch; session loads without the trace extra

        ptrs = frozenset(p.untyped_storage().data_ptr() for p in self.model.parameters())
        return EmulationState(numerics=numerics, weight_ptrs=ptrs, **kw)

    def reference(self, n: int, steps: int, seed: int) -> np.ndarray:
        out: np.ndarray = self.sample(self.call, n, steps, seed).numpy()
        return out

    def calibrate(self, numerics: NumericsSpec, n: int, steps: int, seed: int) -> dict[str, float]:
        state = self._state(numerics, calibrating=True)
        self._run(state, n, steps, seed)
        return dict(sorted(state.recorded.items(), key=lambda kv: _key_order(kv[0])))

    def emulate(self, numerics: NumericsSpec, amax: dict[str, float], n: int, steps: int, seed: int) -> EmulatedImages:
        state = self._state(numerics, amax=dict(amax))
        images = self._run(state, n, steps, seed).numpy()
        return EmulatedImages(images, dict(state.counts))

    def frechet(self, a: np.ndarray, b: np.ndarray) -> float | None:
        if not self.trained_digits or min(len(a), len(b)) < 2:
            return None
        return digits_frechet(a, b)

    def data_images(self, n: int | None) -> np.ndarray | None:
        if not self.trained_digits:
            return None
        from models.zoo.digits import load_digits_images  # lazy: torch + diffusers; session loads without them

        data = load_digits_images().numpy()
        if n is None:
            return data  # all 1,797
        pick = np.sort(np.random.default_rng(0).permutation(len(data))[:n])
        out: np.ndarray = data[pick]
        return out


def _key_order(key: str) -> tuple[int, str]:
    head, _, rest = key.partition(".")
    return (int(head) if head.isdigit() else 1 << 30, rest)


def digits_sampler(trained: bool = True, scheduler: str = "ddim") -> TorchSampler:
    """The digits DDPM (committed weights) or its random-init twin (seed 0) with its sampler."""
    import torch  # lazy: torch; session loads without the trace extra

    from models.zoo import digits  # lazy: torch + diffusers; session loads without them

    if trained:
        model, sched_cfg = digits.load_digits_unet()
        weights = "trained: models/zoo/weights/digits_ddpm.safetensors"
    else:
        torch.manual_seed(0)
        model, sched_cfg = digits.build_digits_unet().eval(), None
        weights = "random-init (seed 0)"
    return unet_sampler("digits-ddpm" if trained else "digits-random", model, sched_cfg, scheduler, weights, trained)


def unet_sampler(
    name: str,
    model: Any,
    scheduler_config: dict[str, Any] | None,
    scheduler: str = "ddim",
    weights: str = "unknown",
    trained_digits: bool = False,
) -> TorchSampler:
    """Any 1-channel diffusers ``UNet2DModel`` with :func:`models.zoo.digits.sample_digits`."""
    from models.zoo.digits import sample_digits  # lazy: torch + diffusers; session loads without them

    def call(x: torch.Tensor, t: torch.Tensor, i: int) -> torch.Tensor:
        out: torch.Tensor = model(x, t).sample
        return out

    def sample(fn: UNetCall, n: int, steps: int, seed: int) -> torch.Tensor:
        return sample_digits(
            model,
            n,
            steps,
            seed,
            scheduler,  # type: ignore[arg-type]
            scheduler_config=scheduler_config,
            unet_fn=fn,
        )

    return TorchSampler(name, model, call, sample, 2.0, weights, trained_digits, SAMPLERS.get(scheduler, scheduler))


def load_quality_model(name: str, scheduler: str = "ddim") -> QualityModel:
    """A model by name (see :data:`QUALITY_MODELS`)."""
    if name == "digits-ddpm":
        return digits_sampler(True, scheduler)
    if name == "digits-random":
        return digits_sampler(False, scheduler)
    if name == "terrain":
        return terrain_model()
    raise SpecError(f"unknown quality model {name!r}; allowed: {', '.join(QUALITY_MODELS)}")


@dataclass
class QualitySession:
    """One model's reference images and calibration tables, reused across designs."""

    model: QualityModel
    images: int
    steps: int
    seed: int = 0
    calibration_images: int = 4
    _reference: Any = None
    _data_fd: float | None | bool = False
    _calibrations: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def reference(self) -> np.ndarray:
        if self._reference is None:
            self._reference = self.model.reference(self.images, self.steps, self.seed)
        ref: np.ndarray = self._reference
        return ref

    def calibration(self, numerics: NumericsSpec) -> dict[str, float]:
        """Recorded activation ranges for ``numerics``, computed once per distinct spec.

        The calibration run applies the design's weight, accumulator and attention numerics
        while it records ranges, so the ranges depend on the whole spec: keyed by all of it, a
        design's quality never depends on which designs ran before it in the session."""
        key = numerics.model_dump_json()
        if key not in self._calibrations:
            self._calibrations[key] = self.model.calibrate(
                numerics, self.calibration_images, self.steps, self.seed + CALIBRATION_SEED_OFFSET
            )
        return self._calibrations[key]

    def reference_data_fd(self) -> float | None:
        if self._data_fd is False:
            data = self.model.data_images(self.images)
            self._data_fd = None if data is None else self.model.frechet(self.reference, data)
        return self._data_fd if not isinstance(self._data_fd, bool) else None


def _frac(counts: dict[str, float], num: str, den: str) -> float | None:
    return counts.get(num, 0.0) / counts[den] if counts.get(den) else None


def _round6(x: float | None) -> float | None:
    return None if x is None or math.isinf(x) or math.isnan(x) else float(f"{x:.6g}")


def quality_run(numerics: NumericsSpec, session: QualitySession) -> dict[str, Any]:
    """Quality of one resolved ``numerics`` on ``session``'s model: the results.json record."""
    m = session.model
    amax = session.calibration(numerics)
    emu = m.emulate(numerics, amax, session.images, session.steps, session.seed)
    pair = compare(emu.images, session.reference, m.data_range)
    data = m.data_images(session.images)
    c = emu.counts
    return {
        "model": m.name,
        "weights": m.weights,
        "images": session.images,
        "steps": session.steps,
        "seed": session.seed,
        "numerics": numerics.label(),
        **pair.to_json(),
        "fd": _round6(m.frechet(emu.images, session.reference)),
        "fd_data": _round6(m.frechet(emu.images, data)) if data is not None else None,
        "fd_data_reference": _round6(session.reference_data_fd()),
        "measured": {
            "act_zero_frac": _round6(_frac(c, "act_zeros", "act_elements")),
            "delta_zero_frac": _round6(_frac(c, "delta_zeros", "delta_elements")),
            "delta_clipped_frac": _round6(_frac(c, "delta_clipped", "delta_elements")),
        },
        "calibration": {
            "method": numerics.activations.calibration,
            "images": session.calibration_images,
            "seed": session.seed + CALIBRATION_SEED_OFFSET,
            "amax": {k: _round6(v) for k, v in amax.items()},
        },
    }


def quality_objective(
    arch: ArchSpec | NumericsSpec,
    model: str = "digits-ddpm",
    *,
    images: int = 16,
    steps: int = 20,
    seed: int = 0,
    calibration_images: int = 4,
    session: QualitySession | None = None,
) -> dict[str, Any]:
    """Image quality of a design (or of resolved numerics) for sweeps and ``picojoule run``.

    Returns the record of :func:`quality_run` (``psnr_db``, ``ssim``, ``fd``, ...). Pass one
    :class:`QualitySession` (``make_session``) to every call of a sweep so the reference images
    and calibration runs are computed once.
    """
    numerics = arch if isinstance(arch, NumericsSpec) else arch_numerics(arch)
    if numerics.weights.format is None:
        raise SpecError("quality_objective needs resolved numerics; pass an ArchSpec or resolve_numerics(...)")
    if session is None:
        session = make_session(model, images=images, steps=steps, seed=seed, calibration_images=calibration_images)
    return quality_run(numerics, session)


def make_session(
    model: str,
    *,
    images: int = 16,
    steps: int = 20,
    seed: int = 0,
    calibration_images: int = 4,
    scheduler: str = "ddim",
) -> QualitySession:
    """A :class:`QualitySession` for a model by name."""
    if images < 1 or steps < 1 or calibration_images < 1:
        raise SpecError(
            f"images, steps and calibration_images must be >= 1, got {images}, {steps}, {calibration_images}"
        )
    return QualitySession(load_quality_model(model, scheduler), images, steps, seed, calibration_images)
