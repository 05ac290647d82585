"""The GPU baseline in the simulator: ``model`` (latency and energy of a workload on a GPU spec),
``samples`` (measurement files as calibration samples), ``calibrate`` (the fit), ``report``
(calibration.html), ``cli`` (``picojoule calibrate``).
"""
