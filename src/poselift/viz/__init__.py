"""Visualisation: side-by-side 2D | 3D renders (mp4/gif), fed arrays only."""
