"""Export a checkpoint for serving: ONNX and TorchScript graphs, parity checks, the Triton repository, the gate.

`export_checkpoint` (in `export.release`) is the one entry point the CLI and the benchmark use.
"""
