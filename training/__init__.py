"""Training: composite loss, cross-validation, run folders and evaluation of checkpoints."""
