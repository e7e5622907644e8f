"""The acquisition node's control protocol (Tesla Analyzer's remote control), without sockets.

A client sends lines `VERB [analyzer]\\n`. The node answers each with one line, except the verbs
of BLOCK_VERBS, which answer lines ending in an empty line (an error answer of those verbs too,
so a client always knows where an answer ends). Every answer is text: never a pickle.

A client that is not on the node's own machine (loopback) must first send `AUTH <key>`; the node
answers `AUTH\\tOK`, or `AUTH\\tFAIL` and closes. Loopback clients need no key.

Both ends use this module: `LineReader` splits the byte stream into lines (bounded), `parse_command`
reads a command, `encode_answer` writes an answer and `AnswerReader` reassembles one on the client.
"""
from __future__ import annotations

from dataclasses import dataclass

# A command is a verb, an analyzer id and, for AUTH, a key: 512 bytes is far beyond any of them;
# a longer line is a client speaking another protocol and is dropped with the connection.
MAX_LINE = 512
# Lines of one block answer, at most (GETVARS of a 4-phase analyzer is ~30; GETCONF of a node
# with dozens of analyzers a few hundred): bounds what a client buffers.
MAX_BLOCK_LINES = 10_000

VERBS = ("HELP", "STATUS", "START", "STARTALL", "PAUSE", "RESUME", "FORCEREQ", "GETVARS", "GETID", "IDENT",
         "GETSTATUS", "GETCONF", "GETDEFS", "RELOAD", "SHUTDOWN", "QUIT")
BLOCK_VERBS = frozenset({"HELP", "GETVARS", "GETSTATUS", "GETCONF", "GETDEFS"})
AUTH = "AUTH"
NOT_IMPLEMENTED = "NOT IMPLEMENTED"
SERVER_ERROR = "SRV_ERR"
CONFIG_ERROR = "SRV_CONF_ERR"
AUTH_OK = "AUTH\tOK"
AUTH_FAIL = "AUTH\tFAIL"
# What HELP lists, one line per verb (pt-BR: people read it).
HELP = {
    "HELP": "esta lista",
    "STATUS [id]": "STARTED|STOPPED|PAUSED, e COMM ou NOCOMM com o último erro",
    "START [id]": "retoma um analisador pausado (START\tOK ou ALLREADY START)",
    "STARTALL": "retoma todos os analisadores (STARTING)",
    "PAUSE [id]": "pausa as leituras (PAUSED ou IS STOPPED)",
    "RESUME [id]": "retoma as leituras (RESUMED)",
    "FORCEREQ [id]": "lê o aparelho agora (FORCE REQUESTED)",
    "GETVARS [id]": "últimos valores lidos: código, fase, valor, unidade",
    "GETID [id] / IDENT [id]": "identificação do aparelho",
    "GETSTATUS": "estado de cada analisador, uma linha cada",
    "GETCONF": "a configuração em uso",
    "GETDEFS": "os códigos de medida: código, unidade, descrição",
    "RELOAD": "relê o config.xml (RELOAD\tOK ou SRV_CONF_ERR e o motivo)",
    "SHUTDOWN": "para o nó (DONE)",
    "QUIT": "fecha esta conexão",
}


class ProtocolError(ValueError):
    """The peer broke the protocol (a line too long, a block too long); the connection ends."""


@dataclass(frozen=True, slots=True)
class Command:
    verb: str                 # upper case; may be a verb this node does not implement
    target: str | None = None  # the analyzer id, or the key for AUTH
    extra: bool = False        # more words than the verb takes

    @property
    def is_block(self) -> bool:
        return self.verb in BLOCK_VERBS


def parse_command(line: str) -> Command | None:
    """A command line; None for an empty line (ignored, as a shell's empty Enter)."""
    words = line.split()
    if not words:
        return None
    verb = words[0].upper()
    return Command(verb, words[1] if len(words) > 1 else None, len(words) > 2)


def request_line(verb: str, target: str | None = None) -> bytes:
    """The bytes a client sends for `verb [target]`."""
    for part in (verb, target or ""):
        if any(c.isspace() for c in part):
            raise ValueError(f"sem espaços em {part!r}")
    text = f"{verb.upper()} {target}" if target else verb.upper()
    data = (text + "\n").encode("utf-8")
    if len(data) > MAX_LINE:
        raise ValueError("comando longo demais")
    return data


def _clean(line: str) -> str:
    # An answer line never holds a newline (it would end the answer early) and, inside a
    # block, is never empty (it would end the block).
    return line.replace("\r", " ").replace("\n", " ") or "-"


def encode_answer(command: Command | None, lines: list[str] | tuple[str, ...]) -> bytes:
    """An answer to `command`: its first line only, or for a block verb every line and the
    empty line that ends the block."""
    if command is not None and command.is_block:
        return "".join(_clean(line) + "\n" for line in lines).encode("utf-8") + b"\n"
    first = lines[0] if lines else ""
    return (_clean(first) + "\n").encode("utf-8")


def is_error(first_line: str) -> bool:
    """Whether an answer's first line reports a failure."""
    return first_line.startswith((SERVER_ERROR, CONFIG_ERROR, NOT_IMPLEMENTED, AUTH_FAIL, "IS STOPPED"))


class LineReader:
    """Bytes in, complete lines out (without the newline or a trailing \\r); ProtocolError for a
    line over MAX_LINE bytes. A partial line waits for its end."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._buffer = bytearray()
        self._max = max_line

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        lines = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            raw = bytes(self._buffer[:end])
            del self._buffer[:end + 1]
            if len(raw) > self._max:
                raise ProtocolError(f"linha com mais de {self._max} bytes")
            lines.append(raw.rstrip(b"\r").decode("utf-8", errors="replace"))
        if len(self._buffer) > self._max:
            raise ProtocolError(f"linha com mais de {self._max} bytes")
        return lines


class AnswerReader:
    """A client's view of one answer: feed bytes until `done`; `lines` is the answer (without
    the block's closing empty line)."""

    def __init__(self, verb: str, max_line: int = 64 * 1024) -> None:
        self.block = verb.upper() in BLOCK_VERBS
        self.lines: list[str] = []
        self.done = False
        self._reader = LineReader(max_line)

    def feed(self, data: bytes) -> bool:
        for line in self._reader.feed(data):
            if self.done:
                raise ProtocolError("resposta além do fim")
            if not self.block:
                self.lines.append(line)
                self.done = True
            elif line == "":
                self.done = True
            else:
                self.lines.append(line)
                if len(self.lines) > MAX_BLOCK_LINES:
                    raise ProtocolError(f"resposta com mais de {MAX_BLOCK_LINES} linhas")
        return self.done

    @property
    def failed(self) -> bool:
        return bool(self.lines) and is_error(self.lines[0])
