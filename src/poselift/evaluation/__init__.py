"""Evaluation: metrics, plausibility checks without ground truth, and the standard protocol."""
