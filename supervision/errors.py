"""Errors of the supervision core.

MeterwatchError
└── SupervisionError       bad input to a sampling, inspection or verdict function
    └── PlanNotFound       no sampling plan exists for the requested parameters
"""

from __future__ import annotations

from meterwatch.errors import MeterwatchError


class SupervisionError(MeterwatchError):
    """Bad input to a sampling, inspection or verdict function."""


class PlanNotFound(SupervisionError):
    """No sampling plan exists for the requested lot size, AQL, level and severity."""
