"""``picojoule bench``: the simulator's speed on the standard workloads (``workloads``)."""
