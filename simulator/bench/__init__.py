"""``picojoule bench``: the simulator's speed (``speed``) on the standard workloads (``workloads``);
``cli`` is the command."""
