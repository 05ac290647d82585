"""picojoule's committed inputs, shipped as package data of the wheel.

Designs (``arch/``), traces and layer lists (``workloads/``), sweeps, GPU measurements and
their calibration (``gpu/``), the validation specs, the thousandfold ladder and quality
sweeps. Commands that read a default input find it through
:func:`accelerator.files.packaged_scenario`, so they work from ``pip install .`` outside a
checkout as well as from one (docs/architecture.md, "The tree").
"""
