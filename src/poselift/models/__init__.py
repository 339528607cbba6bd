"""Temporal convolutional models, the checkpoint format, the lifter (``load_model``), the one
sequence-lifting helper (``predict``), fast inference engines, losses and export."""
