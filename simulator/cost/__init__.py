"""The accelerator cost model: what one design spends on each op.

``hardware`` reduces an ArchSpec to numbers, ``array`` holds the closed-form array timing (the
WS/OS/IS cycle formulas), ``gemm`` costs GEMM tiles (cycles, traffic per level, DRAM),
``overlap`` turns demands into cycles and stalls (double buffering, fill and drain), ``vector``
the vector unit, ``sparsity`` what gating and skipping save, ``mapping`` chooses tiles and loop
order, ``residency`` keeps weights on chip across steps, ``analytic`` and ``event`` are the two
fidelities.
"""
