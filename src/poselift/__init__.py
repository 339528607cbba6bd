"""poselift: 3D human pose estimation in video with dilated temporal convolutions.

Layers (each a sub-package; imports point down only, see docs/architecture.md):
``geometry`` → ``io`` → ``data``, ``models`` → ``training``, ``evaluation``,
``viz`` → ``pipeline`` → ``tools`` → ``cli``.
"""

from __future__ import annotations

from poselift.errors import PoseliftError
from poselift.models.lifter import load_model
from poselift.version import __version__

__all__ = ["PoseliftError", "__version__", "load_model"]
