"""Design-space sweeps: ``picojoule sweep``.

``spec`` reads sweep files (``axes``, ``expressions``, ``paths``), ``points`` turns axes into design points,
``worker`` evaluates them, ``executors`` (serial, local pool) and ``dask_executor`` run workers,
``store`` is the resumable SQLite results store, ``driver`` ties them together, ``pareto``,
``export`` and ``report`` write the outputs, ``bench`` measures executor throughput, ``cli`` is the
command.
"""
