"""Tracing: a real model's sampling loop becomes a :class:`~models.workload.Workload`.

``tracer`` runs the loop under ``recorder`` (a ``TorchDispatchMode``), ``ops`` classifies and
costs each aten op, ``stats`` measures operand values, ``summary`` reads a trace back (torch-free),
``bench`` times the tracer, ``cli`` is ``picojoule trace``. Importing this package imports no torch.
"""
