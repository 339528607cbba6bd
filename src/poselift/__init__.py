"""poselift: 3D human pose estimation in video with dilated temporal convolutions.

Layers (each a sub-package; imports point down only, see docs/architecture.md):
``geometry`` → ``io`` → ``data``, ``models`` → ``training``, ``evaluation``,
``viz`` → ``pipeline`` → ``tools`` → ``cli``.

``import poselift`` stays light (no torch): :func:`load_model` is
:func:`poselift.models.lifter.load_model`, loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from poselift.errors import PoseliftError
from poselift.version import __version__

__all__ = ["PoseliftError", "__version__", "load_model"]

#: Attributes of the package loaded on first access (PEP 562), by the module that defines them.
_LAZY = {"load_model": "poselift.models.lifter"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'poselift' has no attribute {name!r}")
