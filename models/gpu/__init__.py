"""Real-GPU measurement: ``picojoule gpu measure``.

``measurement`` is the file format and imports no torch (the simulator's calibration reads it);
``harness`` measures a target (``targets``) with per-op timing (``ops``), CUDA graphs (``graph``),
fp8 (``fp8``) and NVML energy (``nvml``); ``measure_all`` runs the whole baseline; ``cli`` is the
command. Importing this package imports no torch.
"""
