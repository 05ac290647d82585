"""The GPU baseline in the simulator: ``model`` (latency and energy of a workload on a GPU spec),
``params`` (its parameters and a fitted calibration), ``fp8`` (the torch fp8 path as a workload
transform), ``samples`` (measurement files as calibration samples), ``calibrate`` (the fit, its
kernel step in ``kernel_fit``), ``calibration_file`` (reading the file), ``report``
(calibration.html), ``cli`` (``picojoule calibrate``).
"""
