"""The package version (one place; read by checkpoints, exports and ``--version``)."""

__version__ = "0.1.0"
