"""One agent's settings, validated once when built (from the command line or from config.xml)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.models import MEASUREMENT_CODES, METER_ID
from shared.mqtt_broker import Broker
from medidor.mqtt_payloads import FORMATS as MQTT_FORMATS
from medidor.profiles import PROFILES
from medidor.spool import MAX_RECORDS

SOURCES = ("simulado", "modbus", "cirbus", "pulsos", "mqtt")
# MQTT 3.1.1 §1.5.3: a topic is a UTF-8 string of at most 65,535 bytes.
MAX_TOPIC_BYTES = 65_535
CATEGORIES = ("gridImport", "gridExport", "pvProd", "gridNet", "gridCons", "gridSub", "gridWater", "gridGas", "heatProd")
PARITIES = ("N", "E", "O")
# Below this the agent would spend its time fsyncing; 0.1 s serves tests and live demos, and
# no meter protocol here answers faster than that on a serial bus anyway.
MIN_INTERVAL_S = 0.1
# Tesla Analyzer's tempsgravacio: minutes per recorded average, must divide an hour.
MAX_RECORDING_MIN = 60


class ConfigError(ValueError):
    """An invalid setting; the message is pt-BR and names the option."""


@dataclass(frozen=True, slots=True)
class DeviceSettings:
    """How to reach a hardware meter; mirrors drivers.DeviceConfig."""

    modelo: str | None = None
    porta: str | None = None          # serial path, or socket://host:port for RTU over TCP
    baud: int = 9600
    paridade: str = "N"
    bits: int = 8
    timeout_s: float = 1.0
    endereco: int = 1
    host: str | None = None           # Modbus TCP
    tcp_porta: int = 502
    pulsos_por_kwh: float = 1000.0
    sensor: str | None = None         # multi-sensor pulse counters: "<id> <ms>" lines

    def __post_init__(self) -> None:
        if self.paridade not in PARITIES:
            raise ConfigError(f"--paridade deve ser uma de: {', '.join(PARITIES)}")
        if self.baud <= 0:
            raise ConfigError("--baud deve ser > 0")
        if not 5 <= self.bits <= 8:
            raise ConfigError("bits deve ser de 5 a 8")
        if not self.timeout_s > 0:
            raise ConfigError("timeout deve ser > 0")
        if not 0 <= self.endereco <= 247:
            # Modbus: 1-247 are unit addresses (0 is broadcast, accepted for TCP gateways).
            raise ConfigError("--endereco deve ser de 0 a 247")
        if not 0 < self.tcp_porta < 65536:
            raise ConfigError("--porta-modbus deve ser de 1 a 65535")
        if not self.pulsos_por_kwh > 0:
            raise ConfigError("--pulsos-por-kwh deve ser > 0")


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """A meter that publishes to a broker: one topic (one device) per agent."""

    broker: Broker
    topico: str
    formato: str = "auto"

    def __post_init__(self) -> None:
        if not self.topico or len(self.topico.encode("utf-8")) > MAX_TOPIC_BYTES:
            raise ConfigError("--topico deve ser o tópico MQTT do aparelho, por exemplo tele/tomada/SENSOR")
        if "+" in self.topico or "#" in self.topico:
            # One agent is one meter: a wildcard would mix several devices' counters in one.
            raise ConfigError("--topico não aceita + nem #: um agente lê um aparelho (rode um agente por tópico)")
        if self.formato not in MQTT_FORMATS:
            raise ConfigError(f"--formato-mqtt deve ser um de: {', '.join(MQTT_FORMATS)}")


@dataclass(frozen=True, slots=True)
class ExportSpec:
    """A Tesla Analyzer <dataexport>: recorded periods also go to a file or a central server
    (medidor/exports.py), each through its own durable queue."""

    tipo: str          # localFile or clientRest
    destino: str       # localFile: a directory; clientRest: the central's URL (…/ws/v2)
    no: str = ""       # the node id (clientRest's path)
    equip: str = ""    # the analyzer id (localFile's subdirectory, clientRest's path)
    modelo: str = ""   # clientRest's MODEL


@dataclass(frozen=True, slots=True)
class AgentConfig:
    medidor: str
    servidor: str
    estado: Path
    chave_registro: str | None = None
    nome: str | None = None
    fuso: str = "America/Sao_Paulo"
    limite_alerta_kwh: float = 500.0
    multiplicador: float = 1.0
    intervalo_s: float = 10.0
    fonte: str = "simulado"
    perfil: str = "residencial"
    semente: int = 0
    acelerar: float | None = None     # None: real time (or as fast as possible for the history)
    historico_dias: float = 0.0
    categoria: str | None = None      # None: from the profile (gridImport, pvProd for solar)
    site: str | None = None           # the server's site the meter belongs to (made beforehand)
    dispositivo: DeviceSettings = field(default_factory=DeviceSettings)
    codigos: tuple[str, ...] | None = None  # measurement codes to send; None: all the device gives
    gravacao_min: int = 0             # Tesla's tempsgravacio: 0 sends every read
    max_spool: int = MAX_RECORDS      # readings waiting for the server, at most
    chave_escrita: str | None = None  # a write key the admin made anew: replaces the stored one
    servidores_reserva: tuple[str, ...] = ()  # where to post when `servidor` fails (one database)
    controle: str | None = None       # the control port's HOST:PORTA, registered on the server
    exportacoes: tuple[ExportSpec, ...] = ()
    chave_central: str | None = None  # the node key clientRest exports send (servidor: POST /api/v1/nos/…)
    local: str | None = None          # where the meter is (config.xml's <node location>)
    mqtt: MqttSettings | None = None  # --fonte mqtt

    def __post_init__(self) -> None:
        if not METER_ID.fullmatch(self.medidor):
            raise ConfigError("--id deve ter de 1 a 64 letras, dígitos, '.', '_' ou '-', começando por letra ou dígito")
        if not self.servidor.startswith("http://"):
            raise ConfigError(f"--servidor deve ser uma URL http://host:porta (recebido {self.servidor!r})")
        for url in self.servidores_reserva:
            if not url.startswith("http://"):
                raise ConfigError(f"--servidor deve ser uma URL http://host:porta (recebido {url!r})")
        try:
            ZoneInfo(self.fuso)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"--fuso desconhecido: {self.fuso!r} (use um nome IANA como America/Sao_Paulo)") from None
        if not _positive(self.limite_alerta_kwh):
            raise ConfigError("--limite-alerta deve ser um número de kWh > 0")
        if not _positive(self.multiplicador):
            raise ConfigError("--multiplicador deve ser > 0")
        if not (math.isfinite(self.intervalo_s) and self.intervalo_s >= MIN_INTERVAL_S):
            raise ConfigError(f"--intervalo deve ser ≥ {MIN_INTERVAL_S} s")
        if self.fonte not in SOURCES:
            raise ConfigError(f"--fonte deve ser uma de: {', '.join(SOURCES)}")
        if self.perfil not in PROFILES:
            raise ConfigError(f"--perfil deve ser um de: {', '.join(PROFILES)}")
        if self.acelerar is not None and not _positive(self.acelerar):
            raise ConfigError("--acelerar deve ser > 0")
        if not (math.isfinite(self.historico_dias) and 0 <= self.historico_dias <= 3660):
            raise ConfigError("--historico deve ser de 0 a 3660 dias")
        if self.categoria is not None and self.categoria not in CATEGORIES:
            raise ConfigError(f"--categoria deve ser uma de: {', '.join(CATEGORIES)}")
        if self.codigos is not None:
            unknown = [c for c in self.codigos if c not in MEASUREMENT_CODES]
            if unknown:
                raise ConfigError(f"códigos de medida desconhecidos: {', '.join(unknown)}")
        if self.gravacao_min and (self.gravacao_min < 0 or MAX_RECORDING_MIN % self.gravacao_min):
            raise ConfigError("o tempo de gravação deve dividir 60 minutos (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)")
        if not 1 <= self.max_spool <= MAX_RECORDS:
            raise ConfigError(f"--max-spool deve ser de 1 a {MAX_RECORDS}")
        if self.fonte == "modbus" and not (self.dispositivo.porta or self.dispositivo.host):
            raise ConfigError("--fonte modbus precisa de --porta-serial (serial ou socket://host:porta) ou --host-modbus")
        if self.fonte == "modbus" and not self.dispositivo.modelo:
            raise ConfigError("--fonte modbus precisa de --modelo (pm710, pm500, das8000 …)")
        if self.fonte == "mqtt" and self.mqtt is None:
            raise ConfigError("--fonte mqtt precisa de --broker mqtt://host:1883 e --topico")
        if self.fonte in ("cirbus", "pulsos") and not self.dispositivo.porta:
            raise ConfigError(f"--fonte {self.fonte} precisa de --porta-serial (por exemplo /dev/ttyUSB0)")

    @property
    def simulated(self) -> bool:
        return self.fonte == "simulado"

    @property
    def replay(self) -> bool:
        """Simulated time runs ahead of real time until it catches up (history or acceleration)."""
        return self.simulated and (self.historico_dias > 0 or (self.acelerar or 1.0) > 1.0)


def _positive(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0
