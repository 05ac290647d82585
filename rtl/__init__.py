"""The RTL of the sparse low-precision PE tile (``pe_tile/hdl``), its cocotb bench (``pe_tile/tb``)
and the flow that builds and checks it (``picojoule rtl test|activity|area``).
"""
