"""What each measurement code means, for people (pt-BR): the control port's GETDEFS, the central
server's history answers and the terminal app's table. Units are in shared.models.MEASUREMENT_CODES
(tests/test_node_protocol.py checks both name the same codes)."""
from __future__ import annotations

CODE_NAMES: dict[str, str] = {
    "TPF": "tensão fase-neutro",
    "IPF": "corrente",
    "FRE": "frequência",
    "PAF": "potência ativa por fase",
    "PAT": "potência ativa total",
    "PAP": "potência aparente total",
    "PRT": "potência reativa total",
    "FPT": "fator de potência total",
    "THDV": "distorção harmônica de tensão",
    "THDI": "distorção harmônica de corrente",
    "CEA": "energia ativa acumulada",
    "CER": "energia reativa acumulada",
}
# The fourth value of a per-phase code is the neutral (IPF, THDI on a PM710).
PHASE_NAMES = ("1", "2", "3", "N")


def phase_name(index: int) -> str:
    return PHASE_NAMES[index] if index < len(PHASE_NAMES) else str(index + 1)
