"""ONNX: graphs as workloads (``frontend`` + ``graph``) and as torch modules (``torch_module`` +
``torch_ops``, the interpreter that runs the terrain UNet on any device). Imports nothing heavy.
"""
