"""Training: the run configuration, its data, the resumable trainer and multi-process support."""
