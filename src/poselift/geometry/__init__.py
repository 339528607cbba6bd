"""Geometry: cameras and projection, skeletons and joint layouts, sequences in time
(gaps, resampling, padding, flips) and the root trajectory. Pure functions of arrays."""
