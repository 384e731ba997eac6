"""The gRPC explanation service: predictions from Triton, maps from the PyTorch twin of the served model.

Modules: `protos` (the API), `validation` (requests to tensors and settings), `engine` (the pipeline),
`encoding` (maps to messages), `server` (gRPC plumbing), `metrics`, `audit`, `auth`, `stack`, `bench`.
"""
