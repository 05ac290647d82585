"""Numerics: a real model run with a design's low-precision formats, and the quality of its images.

``quant`` (bit-exact quantisers), ``operands`` (weights, activations, deltas), ``emulate`` (the
dispatch mode for torch models), ``onnx_emulate`` + ``onnx_rewrite`` (the same on ONNX models),
``session`` (whole sampling loops, quality objectives), ``metrics`` (PSNR, SSIM, Fréchet distance;
numpy only), ``steps_run`` + ``steps`` (quality against the number of sampling steps; the sweep
file and a scenario's binding to it), ``cli`` (``picojoule quality``). Importing this package imports no torch.
"""
