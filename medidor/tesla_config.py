"""Tesla Analyzer's configuration (seed 000): `config.xml` (node, serial devices, analyzers with
their requested codes and times) and `lector.ini` (log level and directory).

Every error names the file and line and says what is wrong, in pt-BR
("config.xml, linha 12: tempsgravacio 7 não divide 60 minutos"). The XML is parsed with expat
directly so each element keeps the line it started on; xml.etree drops that.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from shared.models import MEASUREMENT_CODES
from medidor.config import MAX_RECORDING_MIN, AgentConfig, ConfigError, DeviceSettings, ExportSpec
from medidor.lector_ini import LectorIni, TeslaConfigError, parse_lector_ini

log = logging.getLogger("medidor.tesla")

# Tesla's model names → the drivers' map names, for those spelled differently.
_MODEL_ALIASES = {"das-8000": "das8000", "cvm-k": "cvmk"}
_BOOL = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
# expat's usual complaints, in the language of the rest of the message.
_EXPAT_PT = {"no element found": "o arquivo termina antes do fim do XML",
             "mismatched tag": "a marca de fechamento não corresponde à aberta",
             "not well-formed (invalid token)": "caractere inválido (XML malformado)",
             "junk after document element": "conteúdo depois do fim do elemento raiz"}
# Ids of the meters made from a config.xml: "<prefix><node>-<analyzer>".
METER_PREFIX = "tesla-"


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str]
    line: int
    children: list["_Element"] = field(default_factory=list)
    text: str = ""

    def find(self, tag: str) -> "_Element | None":
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag: str) -> list["_Element"]:
        return [c for c in self.children if c.tag == tag]


@dataclass(frozen=True, slots=True)
class SerialDevice:
    id: str
    tipo: str
    habilitado: bool
    porta: str | None
    baud: int
    bits: int
    timeout_s: float
    paridade: str
    host: str | None
    tcp_porta: int
    linha: int


@dataclass(frozen=True, slots=True)
class Analyzer:
    id: int                  # also its Modbus unit / CIRBUS address
    device: SerialDevice
    modelo: str              # the drivers' map name: pm710, pm500, das8000, cvmk
    fonte: str               # modbus or cirbus
    habilitado: bool
    fabricante: str
    codigos: tuple[str, ...]
    tempslectura_s: float
    tempsgravacio_min: int
    linha: int
    exports: tuple[tuple[str, str], ...] = ()  # (localFile|clientRest, target) of each <dataexport>


@dataclass(frozen=True, slots=True)
class TeslaConfig:
    node_id: str
    node_name: str
    location: str
    devices: tuple[SerialDevice, ...]
    analyzers: tuple[Analyzer, ...]

    @property
    def enabled(self) -> tuple[Analyzer, ...]:
        return tuple(a for a in self.analyzers if a.habilitado and a.device.habilitado)


class _Parser:
    def __init__(self, name: str) -> None:
        self.name = name

    def error(self, line: int, message: str) -> TeslaConfigError:
        return TeslaConfigError(f"{self.name}, linha {line}: {message}")

    def tree(self, data: bytes) -> _Element:
        parser = expat.ParserCreate()
        stack: list[_Element] = []
        root: list[_Element] = []

        def start(tag: str, attrs: dict[str, str]) -> None:
            element = _Element(tag, attrs, parser.CurrentLineNumber)
            if stack:
                stack[-1].children.append(element)
            else:
                root.append(element)
            stack.append(element)

        def end(tag: str) -> None:
            element = stack.pop()
            element.text = element.text.strip()

        def text(data: str) -> None:
            if stack:
                stack[-1].text += data

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = text
        try:
            parser.Parse(data, True)
        except expat.ExpatError as exc:
            # The seed's own sample ends without </configuracio>: say which element is left open.
            hint = f"; falta fechar <{stack[-1].tag}>, aberto na linha {stack[-1].line}" if stack else ""
            reason = _EXPAT_PT.get(expat.ErrorString(exc.code), expat.ErrorString(exc.code))
            raise self.error(exc.lineno, f"XML inválido: {reason} (coluna {exc.offset + 1}){hint}") from None
        return root[0]

    def attr(self, element: _Element, name: str) -> str:
        value = element.attrs.get(name)
        if value is None or not value.strip():
            raise self.error(element.line, f"<{element.tag}> sem o atributo {name}")
        return value.strip()

    def child_text(self, element: _Element, tag: str, default: str | None = None) -> tuple[str | None, int]:
        child = element.find(tag)
        if child is None or not child.text:
            if default is None and child is not None:
                raise self.error(child.line, f"<{tag}> vazio em <{element.tag}>")
            return default, element.line if child is None else child.line
        return child.text, child.line

    def number(self, element: _Element, tag: str, kind: type, default: Any, low: float, high: float) -> Any:
        text, line = self.child_text(element, tag, None if default is None else str(default))
        if text is None:
            raise self.error(element.line, f"<{element.tag}> sem <{tag}>")
        try:
            value = kind(text.replace(",", "."))
        except ValueError:
            raise self.error(line, f"<{tag}> deve ser um número, não {text!r}") from None
        if not low <= value <= high:
            raise self.error(line, f"<{tag}> {text} fora do intervalo {low:g}–{high:g}")
        return value

    def boolean(self, element: _Element, name: str, default: bool) -> bool:
        value = element.attrs.get(name)
        if value is None:
            return default
        try:
            return _BOOL[value.strip().lower()]
        except KeyError:
            raise self.error(element.line, f"{name}={value!r} deve ser true ou false") from None


def _known_models() -> dict[str, str]:
    """Map name → protocol, from the drivers' map files: a new model needs only its map."""
    from drivers import available_models
    from drivers.register_map import read_map_document

    out = {}
    for model in available_models():
        _, doc = read_map_document(model)
        out[model] = str(doc.get("protocol", "modbus"))
    return out


def parse_config_xml(data: bytes, name: str = "config.xml") -> TeslaConfig:
    p = _Parser(name)
    root = p.tree(data)
    if root.tag != "configuracio":
        raise p.error(root.line, f"o elemento raiz deve ser <configuracio>, não <{root.tag}>")
    node = root.find("node")
    if node is None:
        raise p.error(root.line, "falta <node id=... name=...>")
    node_id = p.attr(node, "id")
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,20}", node_id):
        raise p.error(node.line, f"node id={node_id!r}: use letras, dígitos, '.', '_' ou '-'")
    devices: dict[str, SerialDevice] = {}
    section = root.find("devices")
    for element in section.findall("device") if section is not None else ():
        device = _device(p, element)
        if device.id in devices:
            raise p.error(element.line, f"device id={device.id} repetido")
        devices[device.id] = device
    models = _known_models()
    analyzers: list[Analyzer] = []
    equips = root.find("equips")
    if equips is None:
        raise p.error(root.line, "falta <equips> com os analisadores")
    seen: set[int] = set()
    for element in equips.findall("analitzador"):
        analyzer = _analyzer(p, element, devices, models)
        if analyzer.id in seen:
            raise p.error(element.line, f"analitzador id={analyzer.id} repetido")
        seen.add(analyzer.id)
        analyzers.append(analyzer)
    if not analyzers:
        raise p.error(equips.line, "<equips> sem nenhum <analitzador>")
    return TeslaConfig(node_id, node.attrs.get("name", "").strip(), node.attrs.get("location", "").strip(),
                       tuple(devices.values()), tuple(analyzers))


def _device(p: _Parser, element: _Element) -> SerialDevice:
    device_id = p.attr(element, "id")
    kind = element.attrs.get("type", "serial").strip().lower()
    if kind not in ("serial", "tcp"):
        raise p.error(element.line, f"device type={kind!r}: use serial (ou tcp, para Modbus TCP)")
    enabled = p.boolean(element, "enabled", True)
    port, port_line = p.child_text(element, "port", "")
    port = (port or "").strip()
    if kind == "serial" and not port:
        raise p.error(element.line, f"device {device_id}: falta <port> (por exemplo /dev/ttyUSB0)")
    if port and re.fullmatch(r"COM\d+:?", port, re.IGNORECASE):
        # Windows names from the original setup; on Linux a USB adapter is /dev/ttyUSB0.
        log.warning("%s, linha %d: porta %s é um nome do Windows", p.name, port_line, port)
        port = port.rstrip(":")
    parity, parity_line = p.child_text(element, "parity", "N")
    parity = (parity or "N").strip().upper()[:1]
    if parity not in ("N", "E", "O"):
        raise p.error(parity_line, f"<parity> {parity!r}: use N, E ou O")
    host, _ = p.child_text(element, "host", "")
    if kind == "tcp" and not host:
        raise p.error(element.line, f"device {device_id} do tipo tcp: falta <host>")
    return SerialDevice(
        device_id, kind, enabled, port or None,
        p.number(element, "baud", int, 9600, 300, 921_600),
        p.number(element, "bits", int, 8, 5, 8),
        p.number(element, "timeout", float, 1.0, 0.01, 60),
        parity, host or None,
        p.number(element, "tcpport", int, 502, 1, 65535),
        element.line,
    )


def _analyzer(p: _Parser, element: _Element, devices: dict[str, SerialDevice], models: dict[str, str]) -> Analyzer:
    raw_id = p.attr(element, "id")
    try:
        analyzer_id = int(raw_id)
    except ValueError:
        raise p.error(element.line, f"analitzador id={raw_id!r} deve ser o endereço numérico (1–247)") from None
    if not 1 <= analyzer_id <= 247:
        raise p.error(element.line, f"analitzador id={analyzer_id}: o endereço deve ser de 1 a 247")
    device_id = p.attr(element, "device")
    if device_id not in devices:
        raise p.error(element.line, f"analitzador {analyzer_id}: device={device_id} não está em <devices>")
    params = element.find("params")
    if params is None:
        raise p.error(element.line, f"analitzador {analyzer_id}: falta <params>")
    raw_model = element.attrs.get("model") or p.child_text(params, "model", "")[0] or ""
    model = _MODEL_ALIASES.get(raw_model.strip().lower(), raw_model.strip().lower())
    if not model:
        raise p.error(element.line, f"analitzador {analyzer_id}: falta o atributo model")
    if model not in models:
        raise p.error(element.line, f"modelo {raw_model!r} desconhecido (conhecidos: {', '.join(sorted(models))}; "
                                    "um modelo novo precisa do seu mapa em drivers/maps/)")
    driver = element.attrs.get("driver", "").lower()
    fonte = "cirbus" if "cirbus" in driver else "modbus" if "modbus" in driver else models[model]
    if models[model] != fonte:
        raise p.error(element.line, f"driver={element.attrs.get('driver')!r} não fala com o modelo {raw_model} "
                                    f"(o mapa dele é {models[model]})")
    recording = p.number(params, "tempsgravacio", int, 15, 1, MAX_RECORDING_MIN)
    if MAX_RECORDING_MIN % recording:
        line = params.find("tempsgravacio").line  # type: ignore[union-attr]
        raise p.error(line, f"tempsgravacio {recording} não divide 60 minutos (use 1, 2, 3, 4, 5, 6, 10, 12, 15, "
                            "20, 30 ou 60)")
    reading = p.number(params, "tempslectura", float, 60, 0.1, 3600)
    if reading > recording * 60:
        line = params.find("tempslectura").line  # type: ignore[union-attr]
        raise p.error(line, f"tempslectura {reading:g} s é maior que tempsgravacio ({recording} min)")
    codes: list[str] = []
    requests = element.find("peticions")
    for consulta in requests.findall("consulta") if requests is not None else ():
        code = consulta.text.strip().upper()
        if code not in MEASUREMENT_CODES:
            raise p.error(consulta.line, f"consulta {consulta.text!r} desconhecida (códigos: "
                                         f"{', '.join(MEASUREMENT_CODES)})")
        if code not in codes:
            codes.append(code)
    exports = []
    section = element.find("dataexports")
    for export in section.findall("dataexport") if section is not None else ():
        kind = {"localfile": "localFile", "clientrest": "clientRest"}.get(p.attr(export, "type").lower())
        target = p.attr(export, "target")
        if kind is None:
            raise p.error(export.line, f"dataexport type={export.attrs['type']!r}: use localFile ou clientRest")
        if kind == "clientRest" and not target.startswith("http://"):
            raise p.error(export.line, f"clientRest target={target!r}: use a URL http:// da central (…/ws/v2)")
        exports.append((kind, target))
    fabricante, _ = p.child_text(params, "fabricant", "")
    return Analyzer(analyzer_id, devices[device_id], model, fonte, p.boolean(element, "enabled", True),
                    fabricante or "", tuple(codes), reading, recording, element.line, tuple(exports))


def load(config_path: Path, lector_path: Path | None = None) -> tuple[TeslaConfig, LectorIni]:
    """Read both files. lector.ini defaults to the one beside config.xml, if it exists; log_dir
    is relative to lector.ini's directory, as in Tesla Analyzer."""
    try:
        data = config_path.read_bytes()
    except OSError as exc:
        raise TeslaConfigError(f"não foi possível ler {config_path}: {exc.strerror or exc}") from None
    config = parse_config_xml(data, config_path.name)
    if lector_path is None:
        candidate = config_path.parent / "lector.ini"
        lector_path = candidate if candidate.exists() else None
    lector = LectorIni()
    if lector_path is not None:
        try:
            text = lector_path.read_text("utf-8")
        except OSError as exc:
            raise TeslaConfigError(f"não foi possível ler {lector_path}: {exc.strerror or exc}") from None
        lector = parse_lector_ini(text, lector_path.name)
        if lector.log_dir is not None and not lector.log_dir.is_absolute():
            lector = LectorIni(lector.log_level, lector_path.parent / lector.log_dir, lector.auto_start)
    return config, lector


def agent_configs(config: TeslaConfig, *, servidor: str, estado: Path, chave_registro: str | None,
                  fuso: str, limite_alerta_kwh: float, multiplicador: float, base: Path = Path("."),
                  chave_central: str | None = None) -> list[AgentConfig]:
    """One AgentConfig per enabled analyzer; ids "tesla-<node>-<analyzer>"; a localFile target is
    relative to `base` (config.xml's directory)."""
    out = []
    for analyzer in config.enabled:
        device = analyzer.device
        meter_id = f"{METER_PREFIX}{config.node_id}-{analyzer.id}"
        settings = DeviceSettings(modelo=analyzer.modelo, porta=device.porta, baud=device.baud,
                                  paridade=device.paridade, bits=device.bits, timeout_s=device.timeout_s,
                                  endereco=analyzer.id, host=device.host, tcp_porta=device.tcp_porta)
        name = " — ".join(x for x in (config.node_name, f"{analyzer.fabricante} {analyzer.modelo.upper()} {analyzer.id}".strip()) if x)
        out.append(AgentConfig(
            medidor=meter_id, servidor=servidor, estado=estado / meter_id, chave_registro=chave_registro,
            nome=name[:120], fuso=fuso, limite_alerta_kwh=limite_alerta_kwh, multiplicador=multiplicador,
            intervalo_s=analyzer.tempslectura_s, fonte=analyzer.fonte, dispositivo=settings,
            codigos=analyzer.codigos or None, gravacao_min=analyzer.tempsgravacio_min,
            exportacoes=tuple(ExportSpec(kind, str(base / target) if kind == "localFile" else target, config.node_id,
                                         str(analyzer.id), analyzer.modelo.upper()) for kind, target in analyzer.exports),
            chave_central=chave_central, local=config.location[:120] or None,
        ))
    return out


def agents_from_tesla(args: Any) -> tuple[list[AgentConfig], LectorIni]:
    """The agents a `medidor --config config.xml` command line asks for."""
    config, lector = load(args.config, args.lector)
    configs = agent_configs(config, servidor=args.servidor.rstrip("/"), estado=args.estado,
                            chave_registro=args.chave_registro, fuso=args.fuso,
                            limite_alerta_kwh=args.limite_alerta, multiplicador=args.multiplicador,
                            base=args.config.parent, chave_central=getattr(args, "chave_central", None))
    if not configs:
        raise ConfigError(f"{args.config.name}: nenhum analisador habilitado (confira enabled= em <device>)")
    return configs, lector
