"""Helpers that turn detector state arrays into plain, strict-JSON data and back.

JSON has no NaN or infinity, so non-finite floats travel as ``None`` and come back as the
fill value the caller names (each state field knows what its missing value means).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from meterwatch.errors import DetectorError

FloatArray = npt.NDArray[np.float64]


def floats_out(values: npt.ArrayLike) -> list[float | None]:
    """A float array as a list with ``None`` where the value is NaN or infinite."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    return [v if np.isfinite(v) else None for v in arr.tolist()]


def floats_in(values: list[float | None], fill: float) -> FloatArray:
    """The inverse of :func:`floats_out`; ``None`` becomes ``fill``."""
    return np.array([fill if v is None else v for v in values], dtype=np.float64)


def check_version(state: dict[str, Any], kind: str, version: int) -> None:
    """Refuse a snapshot of another detector kind or format version."""
    if state.get("kind") != kind or state.get("version") != version:
        raise DetectorError(
            f"cannot restore {kind} v{version} from a snapshot of "
            f"{state.get('kind')!r} v{state.get('version')!r}"
        )
