"""Where the server address and the key come from: the command line, then the environment, then
a small TOML file. The first that gives a value wins, and the app is told which one did, so a
wrong key can be traced to where it was set.
"""
from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

ENV_SERVER = "MONITOR_SERVIDOR"
ENV_KEY = "MONITOR_CHAVE"
ENV_CONFIG = "MONITOR_USUARIO_CONFIG"
ENV_EXPORT = "MONITOR_EXPORTAR_PARA"
THEMES = {"escuro": "textual-dark", "claro": "textual-light"}


def default_config_path(env: Mapping[str, str] = os.environ) -> Path:
    """$MONITOR_USUARIO_CONFIG, else $XDG_CONFIG_HOME (or ~/.config)/monitor-energia/usuario.toml."""
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]).expanduser()
    base = Path(env["XDG_CONFIG_HOME"]).expanduser() if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "monitor-energia" / "usuario.toml"


def default_export_dir(env: Mapping[str, str] = os.environ) -> Path:
    """$MONITOR_EXPORTAR_PARA, else ~/monitor-energia/exportacoes: one folder the user can find,
    whatever directory the app was started from (a checkout, for `make demo`)."""
    if env.get(ENV_EXPORT):
        return Path(env[ENV_EXPORT]).expanduser()
    return Path.home() / "monitor-energia" / "exportacoes"


@dataclass(frozen=True, slots=True)
class Settings:
    """What the app starts with. `*_source` says where a value came from (shown on errors)."""

    servidor: str | None
    chave: str | None
    servidor_source: str
    chave_source: str
    config_path: Path
    tema: str = "escuro"
    exportar_para: Path = field(default_factory=default_export_dir)

    def __post_init__(self) -> None:
        if self.tema not in THEMES:
            raise ValueError(f"tema deve ser um de: {', '.join(THEMES)}")

    @property
    def textual_theme(self) -> str:
        return THEMES[self.tema]


class ConfigError(Exception):
    """The config file exists but cannot be used; the message says why, in pt-BR."""


def read_config(path: Path) -> dict[str, str]:
    """`servidor`, `chave` and `tema` from the TOML file; {} if it does not exist."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"não consegui ler {path}: {exc}") from None
    out: dict[str, str] = {}
    for name in ("servidor", "chave", "tema", "exportar_para"):
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ConfigError(f"{path}: '{name}' deve ser um texto entre aspas")
        out[name] = value
    return out


def resolve(
    *, servidor: str | None, chave: str | None, tema: str | None, config_path: Path | None,
    exportar_para: Path | None, env: Mapping[str, str] = os.environ,
) -> Settings:
    """Settings from the command-line values (None when not given), the environment and the file."""
    path = config_path or default_config_path(env)
    stored = read_config(path)

    def pick(cli_value: str | None, env_name: str, key: str) -> tuple[str | None, str]:
        if cli_value:
            return cli_value, f"--{key}"
        if env.get(env_name):
            return env[env_name], env_name
        if stored.get(key):
            return stored[key], str(path)
        return None, ""

    server, server_source = pick(servidor, ENV_SERVER, "servidor")
    key, key_source = pick(chave, ENV_KEY, "chave")
    return Settings(
        servidor=server, chave=key, servidor_source=server_source, chave_source=key_source,
        config_path=path, tema=tema or stored.get("tema") or "escuro",
        exportar_para=(exportar_para or (Path(stored["exportar_para"]) if stored.get("exportar_para")
                                         else default_export_dir(env))).expanduser().absolute(),
    )


def save_config(path: Path, servidor: str, chave: str) -> None:
    """Write the server and key so the next start needs no arguments. The key is a credential:
    the file is created readable by its owner only, and replaced whole (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # json.dumps writes a valid TOML basic string: same quotes and escapes for this character set.
    text = f"servidor = {json.dumps(servidor)}\nchave = {json.dumps(chave)}\n"
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
