"""The GPU baseline in the simulator: ``model`` (latency and energy of a workload on a GPU spec),
``fp8`` (the torch fp8 path as a workload transform), ``samples`` (measurement files as
calibration samples), ``calibrate`` (the fit), ``report`` (calibration.html), ``cli``
(``picojoule calibrate``).
"""
