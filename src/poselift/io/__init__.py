"""Files in and out: atomic writes, arrays, pose exports (npz/JSON/CSV/BVH), keypoint-file
importers and all-or-nothing output staging."""
