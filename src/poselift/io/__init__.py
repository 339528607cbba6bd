"""Files in and out: atomic writes, arrays, pose exports (npz/JSON/CSV/BVH, TRC/C3D markers), keypoint-file
importers and all-or-nothing output staging."""
