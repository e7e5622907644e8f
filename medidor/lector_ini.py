"""Tesla Analyzer's `lector.ini` (seed 000): log level, log directory and whether the analyzers
start reading (`auto_start`). Errors name the file and line, in pt-BR."""
from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path

_LOG_LEVELS = {"debug": "DEBUG", "info": "INFO", "warning": "WARNING", "warn": "WARNING", "error": "ERROR",
               "critical": "ERROR"}
_BOOL = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


class TeslaConfigError(ValueError):
    """An invalid config.xml or lector.ini; the message starts with "<file>, linha N:"."""


@dataclass(frozen=True, slots=True)
class LectorIni:
    log_level: str = "INFO"
    log_dir: Path | None = None
    auto_start: bool = True


def parse_lector_ini(text: str, name: str = "lector.ini") -> LectorIni:
    parser = configparser.ConfigParser()
    try:
        parser.read_string(text, source=name)
    except configparser.MissingSectionHeaderError as exc:
        raise TeslaConfigError(f"{name}, linha {exc.lineno}: antes de tudo vem a seção [General]") from None
    except configparser.ParsingError as exc:
        line = exc.errors[0][0] if exc.errors else 1
        raise TeslaConfigError(f"{name}, linha {line}: linha que não é 'chave=valor' nem [seção]") from None
    except configparser.Error as exc:
        line = getattr(exc, "lineno", 1)
        raise TeslaConfigError(f"{name}, linha {line}: {exc.message}") from None
    if not parser.has_section("General"):
        raise TeslaConfigError(f"{name}, linha 1: falta a seção [General]")
    general = parser["General"]

    def line_of(key: str) -> int:
        for number, raw in enumerate(text.splitlines(), 1):
            if raw.strip().lower().startswith(key):
                return number
        return 1

    level_text = general.get("log_level", "info").strip().lower()
    if level_text not in _LOG_LEVELS:
        raise TeslaConfigError(f"{name}, linha {line_of('log_level')}: log_level {level_text!r} desconhecido "
                               "(use debug, info, warning ou error)")
    auto = general.get("auto_start", "yes").strip().lower()
    if auto not in _BOOL:
        raise TeslaConfigError(f"{name}, linha {line_of('auto_start')}: auto_start deve ser yes ou no")
    log_dir = general.get("log_dir", "").strip()
    return LectorIni(_LOG_LEVELS[level_text], Path(log_dir) if log_dir else None, _BOOL[auto])
