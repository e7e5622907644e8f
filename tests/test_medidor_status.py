"""The status line and the console that keeps it below log messages."""
from __future__ import annotations

import io

from medidor.status import Console, StatusBoard, render


def test_status_line_shows_seq_backlog_ack_server_device_and_power() -> None:
    board = StatusBoard("casa-1", fonte="simulado (residencial)")
    board.update(seq=41, pendentes=1200, spool_pct=12.0, ultimo_ack=1000.0, servidor="conectado",
                 potencia_w=5830.4, mes_kwh=1234.56, multiplicador=1.5)
    line = render(board.snapshot(), now=1004.0)
    assert line == ("casa-1 | seq 41 | spool 1200 (12% cheio) | confirmado há 4 s | servidor: conectado | "
                    "simulado (residencial): ok | 5.830 W | mês 1.234,6 kWh | ×1.5")


def test_paused_and_never_acked() -> None:
    board = StatusBoard("m")
    board.update(pausado=True)
    line = render(board.snapshot())
    assert "PAUSADO" in line and "nada confirmado ainda" in line and "seq -" in line


def test_console_prints_messages_above_the_status_line() -> None:
    out = io.StringIO()
    console = Console(out, interactive=True)
    console.status("status 1")
    console.message("uma mensagem")
    console.finish()
    assert out.getvalue() == "\r\x1b[Kstatus 1\r\x1b[Kuma mensagem\nstatus 1\n"


def test_console_without_a_terminal_prints_only_messages() -> None:
    out = io.StringIO()
    console = Console(out, interactive=False)
    console.status("status")
    console.message("linha")
    assert out.getvalue() == "linha\n"
