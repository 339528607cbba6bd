"""The one exception type for user-facing failures.

Raise :class:`PoseliftError` with a sentence that names the file/key and what was
expected. The CLI catches it at the boundary, prints the message and exits with
code 2. Programming errors (bugs) still raise normally.
"""

from __future__ import annotations

import math
import numbers


class PoseliftError(Exception):
    """A failure caused by the user's input (bad file, bad option, bad shape)."""

    exit_code = 2


def require(condition: bool, message: str) -> None:
    """Raise :class:`PoseliftError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise PoseliftError(message)


def finite_number(value: object) -> bool:
    """``value`` is a real, finite number: Python or NumPy, not a bool, not NaN or ±inf."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
