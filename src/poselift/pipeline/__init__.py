"""Video → 3D: decoding, the 2D detector, ``infer`` (one input), ``infer-batch`` and streaming."""
