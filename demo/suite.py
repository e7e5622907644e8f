"""`make demo` (`python -m demo`): the whole suite on this machine, from a fresh copy of db.json.example.

Starts the server, three simulated meters (a household, a shop, a house with solar panels that
exports at noon) with a month of backfilled history, a simulated PM710 analyzer read by a fourth
agent through the Modbus driver, then opens the terminal app. Quitting the app (Ctrl+Q) stops
every process started here; nothing is left running or listening, even when the terminal closes
or the demo itself is killed (its children get SIGTERM from the kernel when it dies). A second
demo on the same folder refuses to start instead of deleting the first one's files. Without a
terminal (or with --sem-app) the services run until Ctrl-C, SIGTERM or SIGHUP.

Ports: the server takes MONITOR_PORTA (5000 by default) when it is free; otherwise, or with
MONITOR_PORTA=0, it picks a free one itself and the demo reads which from its first line, as it
does for the simulated analyzer's Modbus port. Nothing here picks a port for another process (a
port found free here could be taken before the child binds it).
"""
from __future__ import annotations

import ctypes
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from servidor.example import DEMO_KEYS
from shared import argparse_pt

ROOT = Path(__file__).resolve().parent.parent
# Tests point these elsewhere so that they never touch a developer's running demo.
DEMO_DIR = Path(os.environ.get("MONITOR_DEMO_DIR", ROOT / "demo-data"))
ADMIN_KEY = "demo-admin"
REGISTRATION_KEY = "demo-registro"
DEFAULT_PORT = 5000
# Days of history each simulated meter backfills on its first start, and the seconds between its
# readings: 15 s keeps the live chart lively and a month of backfill to ~170 k readings a meter.
HISTORY_DAYS = float(os.environ.get("MONITOR_DEMO_HISTORICO", 30))
INTERVAL_S = 15
METERS = (
    ("casa", "Casa (residencial)", "residencial"),
    ("loja", "Loja (comercial)", "comercial"),
    ("solar", "Painéis da casa solar", "solar"),
    ("rede-solar", "Ligação da casa solar", "casa-solar"),
)
# The solar house: its grid connection (gridNet: the counter goes down while it exports) and its
# panels (pvProd), one site; the same seed makes the panels the ones the connection sees.
SITE = {"id": "casa-solar", "nome": "Casa com painéis solares", "ligacao": "bifasica"}
SITE_METERS = {"solar", "rede-solar"}
SOLAR_SEED = "7"
# Linux's prctl option that sends the child a signal when its parent dies (PR_SET_PDEATHSIG).
PR_SET_PDEATHSIG = 1
# A cold Python start plus imports takes a second or two; more means something is wrong.
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log: IO[str]


# What the server and the simulator print once they listen; the demo reads their ports there.
SERVER_READY = re.compile(r"servidor ouvindo em http://[^:/]+:(\d+)/")
SIMULATOR_READY = re.compile(r"--porta-modbus (\d+)")
PULSES_READY = re.compile(r"--porta-serial (\S+)")


def create_site(port: int, site: dict) -> None:
    """The demo's site, made with the admin key before its meters' agents register into it."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=START_TIMEOUT_S)
    try:
        connection.request("POST", "/api/v1/sites", json.dumps(site),
                           {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"})
        reply = connection.getresponse()
        reply.read()
        if reply.status not in (201, 409):
            raise RuntimeError(f"o servidor recusou o site {site['id']} da demonstração: HTTP {reply.status}")
    finally:
        connection.close()


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for_port(child: Child, ready: re.Pattern[str]) -> int:
    """The port `child` printed in its log once listening (the `ready` line's first group)."""
    return int(wait_for_text(child, ready))


def wait_for_text(child: Child, ready: re.Pattern[str]) -> str:
    """The first group of `ready` once `child` printed it in its log."""
    deadline = time.monotonic() + START_TIMEOUT_S
    log_path = Path(child.log.name)
    while time.monotonic() < deadline:
        found = ready.search(log_path.read_text(encoding="utf-8", errors="replace"))
        if found:
            return found.group(1)
        if child.proc.poll() is not None:
            raise RuntimeError(f"{child.name} terminou ao iniciar; veja {child.log.name}")
        time.sleep(0.1)
    raise RuntimeError(f"{child.name} não começou a escutar em {START_TIMEOUT_S} s; veja {child.log.name}")


# With a broker (`make demo MQTT=mqtt://127.0.0.1:1883`): a simulated Tasmota plug publishes here
# and an agent reads it (`--fonte mqtt`), and the server publishes every meter for Home Assistant.
MQTT_METER = "tomada"
MQTT_TOPIC = "tele/tomada-demo/SENSOR"


class Demo:
    def __init__(self, port: int, mqtt: str | None = None) -> None:
        """`port` for the server; 0 lets it pick a free one (then `self.port` is set from it).
        `mqtt`: a broker URL, or None for the demo without MQTT."""
        self.port = port
        self.mqtt = mqtt
        self.children: list[Child] = []
        self.env = {**os.environ, "MONITOR_CHAVE_ADMIN": ADMIN_KEY, "MONITOR_CHAVE_REGISTRO": REGISTRATION_KEY,
                    "MONITOR_DEMO": "1", "PYTHONUNBUFFERED": "1"}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self, name: str, *args: str) -> Child:
        log = open(DEMO_DIR / "logs" / f"{name}.log", "w", encoding="utf-8")
        # Own process group: a Ctrl-C in the app's terminal reaches the app only; we stop the rest.
        proc = subprocess.Popen([sys.executable, "-m", *args], cwd=DEMO_DIR, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=_stop_with_parent)
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def start(self) -> None:
        running = _running_demo()
        if running:
            raise RuntimeError(f"outra demonstração já roda (pid {running}) em {DEMO_DIR}; pare-a antes "
                               f"(Ctrl+Q no app dela, ou kill {running})")
        if DEMO_DIR.exists():
            shutil.rmtree(DEMO_DIR)
        (DEMO_DIR / "logs").mkdir(parents=True)
        (DEMO_DIR / PID_FILE).write_text(str(os.getpid()))
        shutil.copyfile(ROOT / "db.json.example", DEMO_DIR / "db.json")
        mqtt_output = ("--mqtt", self.mqtt) if self.mqtt else ()
        server = self.spawn("servidor", "servidor", "--porta", str(self.port), "--db", str(DEMO_DIR / "db.json"),
                            *mqtt_output)
        self.port = wait_for_port(server, SERVER_READY)
        device = self.spawn("analisador-pm710", "medidor", "simular-dispositivo", "--modelo", "pm710",
                            "--perfil", "comercial", "--porta-modbus", "0")
        modbus_port = wait_for_port(device, SIMULATOR_READY)
        create_site(self.port, SITE)
        common = ("--servidor", self.url, "--estado", str(DEMO_DIR / "medidores"), "--intervalo", str(INTERVAL_S),
                  "--sem-teclado")
        for meter_id, name, profile in METERS:
            site = ("--site", SITE["id"], "--semente", SOLAR_SEED) if meter_id in SITE_METERS else ()
            self.spawn(meter_id, "medidor", "--id", meter_id, "--nome", name, "--perfil", profile,
                       "--historico", f"{HISTORY_DAYS:g}", *site, *common)
        self.spawn("quadro", "medidor", "--id", "quadro", "--nome", "Quadro geral (PM710)", "--fonte", "modbus",
                   "--modelo", "pm710", "--host-modbus", "127.0.0.1", "--porta-modbus", str(modbus_port),
                   # Its control port (a free one): the app's Controle tab pauses it and reads its values.
                   "--porta-controle", "0", *common)
        # An Arduino counting a meter's LED blinks on a pseudo-terminal: its blinks feed /blip.html.
        arduino = self.spawn("arduino-pulsos", "medidor", "simular-dispositivo", "--modelo", "pulsos",
                             "--perfil", "residencial")
        tty = wait_for_text(arduino, PULSES_READY)
        self.spawn("pulsos", "medidor", "--id", "pulsos", "--nome", "Medidor de pulsos (LED)", "--fonte", "pulsos",
                   "--porta-serial", tty, "--pulsos-por-kwh", "1000", *common)
        if self.mqtt:
            self.spawn("tomada-tasmota", "medidor", "simular-tasmota", "--broker", self.mqtt, "--topico", MQTT_TOPIC)
            self.spawn(MQTT_METER, "medidor", "--id", MQTT_METER, "--nome", "Tomada Tasmota (MQTT)", "--fonte", "mqtt",
                       "--broker", self.mqtt, "--topico", MQTT_TOPIC, "--formato-mqtt", "tasmota", *common)

    def announce(self) -> None:
        print("monitor-energia, demonstração")
        print(f"  servidor:      {self.url}/api/v1   (página: {self.url}/)")
        print(f"  administração: {ADMIN_KEY}    registro: {REGISTRATION_KEY}")
        for meter_id, (read_key, _) in DEMO_KEYS.items():
            print(f"  leitura de {meter_id:<13} {read_key}")
        print(f"  medidores simulados: {', '.join(m for m, _, _ in METERS)}, quadro (PM710 via Modbus, com porta de "
              "controle) e pulsos (Arduino)")
        print(f"  site {SITE['id']}: {' + '.join(sorted(SITE_METERS))} (rede com exportação e painéis)")
        print(f"  pulsos ao vivo: {self.url}/blip.html?id=2&chave={ADMIN_KEY}   (blipserver: /last/2, /since/2/0)")
        if self.mqtt:
            print(f"  MQTT ({self.mqtt}): tomada Tasmota simulada em {MQTT_TOPIC}, lida pelo medidor {MQTT_METER};")
            print("    Home Assistant: descoberta em homeassistant/…, estado em monitor-energia/<medidor>/estado")
        print(f"  registros em {DEMO_DIR / 'logs'}")

    def stop(self) -> None:
        """SIGTERM to every child, newest first (agents before the server), then wait; kill stragglers."""
        for child in reversed(self.children):
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            try:
                child.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
            child.log.close()
        self.children.clear()


PID_FILE = "demo.pid"


def _running_demo() -> int | None:
    """The pid of another live demo using DEMO_DIR: starting over would delete its files."""
    try:
        pid = int((DEMO_DIR / PID_FILE).read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid if pid != os.getpid() else None


def _stop_with_parent() -> None:
    """In each child before exec: SIGTERM when the demo process dies, however it dies (kill -9
    included), so no service outlives it."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    parser = argparse_pt.parser(prog="make demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sem-app", action="store_true", help="só os serviços, sem o app de terminal")
    parser.add_argument("--mqtt", metavar="URL",
                        help="um broker MQTT (mqtt://127.0.0.1:1883): mostra a tomada Tasmota e o Home Assistant")
    args = parser.parse_args(argv)
    wanted = int(os.environ.get("MONITOR_PORTA", DEFAULT_PORT))
    if wanted and not port_is_free(wanted):
        print(f"a porta {wanted} está ocupada; o servidor escolhe uma livre")
        wanted = 0
    demo = Demo(wanted, args.mqtt)
    stop_requested = False

    def on_signal(*_: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    previous = signal.signal(signal.SIGTERM, on_signal)
    # The terminal closed (window, ssh, tmux): stop like SIGTERM rather than die and leave the
    # children behind; the app, on the same terminal, gets its own hangup and exits.
    previous_hup = signal.signal(signal.SIGHUP, on_signal)
    try:
        demo.start()
        demo.announce()
        if args.sem_app or not sys.stdin.isatty() or not sys.stdout.isatty():
            print("  sem terminal interativo: serviços rodando; Ctrl-C para parar.")
            while not stop_requested:
                time.sleep(0.2)
        else:
            print(f"  abrindo o app: usuario --servidor {demo.url} --chave {ADMIN_KEY}  (Ctrl+Q sai)")
            time.sleep(1.5)
            subprocess.run([sys.executable, "-m", "usuario", "--servidor", demo.url, "--chave", ADMIN_KEY],
                           cwd=ROOT, env={k: v for k, v in demo.env.items() if not k.startswith("MONITOR_")})
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        demo.stop()
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGHUP, previous_hup)
        demo.stop()
    print("demonstração encerrada: todos os processos parados.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
