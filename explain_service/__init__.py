"""The gRPC explanation service: predictions from Triton, maps from the PyTorch twin of the served model.

Modules: `protos` (the API), `validation` (requests to tensors and settings), `engine` (the pipeline),
`encoding` (maps to messages), `server` (gRPC plumbing), `metrics`, `audit`, `auth`, `client` (a small client and
the health check), `bench` (the load side of `medxai bench service`). Exporting a model and starting Triton beside
the service (the local stack, the benchmark's set-up) is the command line's job (`medxai/commands/`).
"""
