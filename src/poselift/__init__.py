"""poselift: 3D human pose estimation in video with dilated temporal convolutions."""

from __future__ import annotations

from poselift.errors import PoseliftError

__version__ = "0.1.0"
__all__ = ["PoseliftError", "__version__", "load_model"]


def load_model(path=None, **kwargs):
    """Load a poselift checkpoint as a ready ``nn.Module`` in eval mode.

    See :func:`poselift.model.load_model`.
    """
    from poselift.model import load_model as _load

    return _load(path, **kwargs)
