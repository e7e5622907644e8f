"""The month's consumption if the pace so far holds: what the limit alerts project."""
from __future__ import annotations


def project_month_kwh(kwh_so_far: float, elapsed_ms: int, month_ms: int) -> float:
    """The month's kWh if the pace so far continues to its end (linear).

    Nothing elapsed gives kwh_so_far unchanged (no pace to extrapolate); a finished month
    gives what was consumed.
    """
    if month_ms <= 0:
        raise ValueError("duração do mês deve ser positiva")
    if elapsed_ms <= 0 or elapsed_ms >= month_ms:
        return float(kwh_so_far)
    return float(kwh_so_far) * month_ms / elapsed_ms
