"""Tesla Analyzer's central routes (/ws/v2/history/save and …/load) and the node keys that
authorise them (POST /api/v1/nos/{no}/chave). The rules are servidor/domain/central.py."""
from __future__ import annotations

from http import HTTPStatus
from urllib.parse import parse_qs

from servidor.api.call import Call, ok
from servidor.api.errors import ApiError
from servidor.domain import central
from servidor.domain.auth import Role, require, require_admin, require_node
from servidor.domain.errors import Forbidden, InvalidInput, NotFound
from shared.http.messages import Response

# Fields of the save form: DATA_HORA, LECTURA, MODEL; a few more are tolerated, not thousands.
MAX_FORM_FIELDS = 16
FORM = "application/x-www-form-urlencoded"
NODE_KEY_NOTE = "guarde a chave do nó: ela não será mostrada de novo; a anterior já não vale"


class BadForm(ApiError):
    status = HTTPStatus.BAD_REQUEST
    code = "periodo_invalido"


def _form(call: Call) -> dict[str, str]:
    ctype = (call.request.header("content-type") or "").split(";")[0].strip().lower()
    if ctype and ctype != FORM:
        raise BadForm(f"envie um formulário ({FORM}) com DATA_HORA, LECTURA e MODEL, não {ctype}")
    try:
        text = call.request.body.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise BadForm("formulário ilegível (UTF-8, no máximo 16 campos)") from None
    return {name: values[-1] for name, values in fields.items()}


def save_history(call: Call, no: str, equip: str) -> Response:
    node = no
    require_node(call.principal, node)
    try:
        seq = central.save(call.services, node, equip, _form(call))
    except InvalidInput as exc:  # Tesla's nodes expect 400 for a period they must not resend
        raise BadForm(exc.message, code=exc.code) from None
    return Response(HTTPStatus.CREATED, (("content-type", "text/plain; charset=utf-8"),),
                    f"#Saved:{seq}".encode("utf-8"))


def load_history(call: Call, no: str, addr: str, var: str, de: str, ate: str) -> Response:
    node = no
    principal = require(call.principal)
    meter = central.meter_id(node, addr)
    if not (principal.role is Role.NODE and principal.meter_id == node) and not principal.can_read(meter):
        raise Forbidden(f"esta rota precisa da chave do nó {node}, de uma chave do medidor {meter} ou da de "
                        "administração")
    try:
        lectures = central.load(call.services, node, addr, var, de, ate)
    except InvalidInput as exc:
        raise BadForm(exc.message, code=exc.code) from None
    return ok({"ResultSet": {"Lectures": lectures}})


def new_node_key(call: Call, no: str) -> Response:
    require_admin(call.principal)
    if not central.NODE_ID.fullmatch(no):
        raise NotFound(f"nó {no[:40]!r} inválido: letras, dígitos, '.', '_' ou '-', até 20")
    key = call.services.keys.new_node_key(no)
    return ok({"no": no, "chave": key, "aviso": NODE_KEY_NOTE}, HTTPStatus.CREATED)
