"""Request.json(): hostile JSON is a clear ValueError (a 400 through the server), never a 500.

Issue 8 #13: JSON nested 5k–100k levels gave 500 through RecursionError, a lone surrogate was
echoed or stored, 400-digit integers reached the domain's arithmetic.
"""
from __future__ import annotations

import json

import pytest

from shared.http.json_body import MAX_JSON_DEPTH, MAX_JSON_INT_DIGITS, decode_json
from shared.http.messages import Request


def nested(depth: int, leaf: bytes = b"1", kinds: bytes = b"[") -> bytes:
    """`depth` containers around `leaf`, alternating the given opener kinds."""
    openers = bytes(kinds[i % len(kinds)] for i in range(depth))
    closers = openers[::-1].translate(bytes.maketrans(b"[{", b"]}"))
    if b"{" in kinds:
        # An object needs a key: write {"k": ...} for every brace.
        out = b"".join(b'{"k":' if c == ord("{") else b"[" for c in openers)
        return out + leaf + closers
    return openers + leaf + closers


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_deep_nesting_is_a_value_error_not_a_recursion_error(depth):
    for kinds in (b"[", b"{", b"[{"):
        with pytest.raises(ValueError, match="aninhado demais"):
            decode_json(nested(depth, kinds=kinds))


def test_nesting_up_to_the_limit_is_decoded_and_one_more_is_refused():
    assert decode_json(nested(MAX_JSON_DEPTH)) is not None
    assert decode_json(nested(MAX_JSON_DEPTH, kinds=b"[{")) is not None
    with pytest.raises(ValueError, match=f"máximo {MAX_JSON_DEPTH} níveis"):
        decode_json(nested(MAX_JSON_DEPTH + 1))


def test_openers_never_closed_are_refused_without_recursing():
    with pytest.raises(ValueError):
        decode_json(b"[" * 100_000)
    with pytest.raises(ValueError):
        decode_json(b'{"a":' * 50_000)


def test_brackets_inside_strings_do_not_count_as_nesting():
    tricky = {"texto": "[[[[{{{{" * 200, "fecha": "]]]}}}" * 200, "esc": 'aspas \\" e [ ' * 50}
    body = json.dumps({"lista": [tricky] * 40}).encode()
    assert decode_json(body) == {"lista": [tricky] * 40}


def test_strings_cannot_hide_depth():
    # String closers between real openers would make a naive bracket count look shallow.
    body = b"".join(b'["]",' for _ in range(200)) + b"1" + b',"["]' * 200
    with pytest.raises(ValueError, match="aninhado demais"):
        decode_json(body)


def test_a_batch_of_a_thousand_readings_is_decoded():
    batch = {"leituras": [{"seq": i, "ts": 1_700_000_000_000 + i, "energia_wh": i * 0.5,
                           "medidas": {"V": 220.1, "A": [1, 2, 3]}} for i in range(1000)]}
    assert decode_json(json.dumps(batch).encode()) == batch


@pytest.mark.parametrize("text", ['"\\ud800"', '{"nome": "a\\udfffb"}', '["\\ud83d x"]', '{"\\udc00": 1}'])
def test_lone_surrogate_escapes_are_refused(text):
    with pytest.raises(ValueError, match="surrogate"):
        decode_json(text.encode())


def test_surrogate_pairs_and_literal_backslash_u_text_are_kept():
    assert decode_json('"\\ud83d\\ude00"'.encode()) == "\U0001F600"
    assert decode_json('"\\\\ud800"'.encode()) == "\\ud800"       # a backslash, then text


def test_integers_longer_than_the_limit_are_refused():
    ok = "9" * MAX_JSON_INT_DIGITS
    assert decode_json(f'{{"energia_wh": {ok}, "n": -{ok}}}'.encode()) == {"energia_wh": int(ok), "n": -int(ok)}
    for bad in ("1" * 400, "-" + "7" * (MAX_JSON_INT_DIGITS + 1)):
        with pytest.raises(ValueError, match="dígitos"):
            decode_json(f'{{"energia_wh": {bad}}}'.encode())


def test_long_digit_strings_and_floats_are_not_integers():
    digits = "1" * 400
    assert decode_json(f'{{"id": "{digits}", "x": 0.{digits}}}'.encode())["id"] == digits


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_are_refused(constant):
    with pytest.raises(ValueError, match="não é um número JSON"):
        decode_json(f'{{"potencia_w": {constant}}}'.encode())


def test_invalid_utf8_and_syntax_keep_their_messages():
    with pytest.raises(ValueError, match="não é UTF-8"):
        decode_json(b'{"a": "\xff"}')
    with pytest.raises(ValueError, match="JSON inválido"):
        decode_json(b'{"a": }')


def test_request_json_uses_the_bounds():
    request = Request("POST", "/x", body=nested(10_000))
    with pytest.raises(ValueError, match="aninhado demais"):
        request.json()


# -- through the real server: 400, never 500 -----------------------------------------------------


HOSTILE = {
    "deep": nested(100_000),
    "deep-objects": nested(5_000, kinds=b"{"),
    "surrogate": b'{"id": "m1", "nome": "\\ud800"}',
    "long-int": b'{"id": "m1", "nome": "x", "multiplicador": ' + b"9" * 400 + b"}",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_json_to_the_api_is_a_400(servidor_json, name):
    reply = servidor_json.admin.post("/api/v1/medidores", raw=HOSTILE[name],
                                     headers={"Content-Type": "application/json"})
    assert reply.status == 400, reply.body
    assert reply.json["erro"]["codigo"] == "json_invalido"


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_json_to_the_keyless_legacy_post_is_a_400(servidor_json, name):
    reply = servidor_json.client().post("/medidor-antigo", raw=HOSTILE[name])
    assert reply.status == 400, reply.body
    assert reply.json["erro"]["codigo"] == "json_invalido"
    assert servidor_json.client().get("/?id=medidor-antigo").status == 404


@pytest.mark.parametrize("body, reason", [
    (b'{"seq":', "esperava um valor"),
    (b"{seq: 1}", "esperava o nome de um campo entre aspas duplas"),
    (b'{"seq" 1}', "esperava ':'"),
    (b'{"seq":1 "ts":2}', "esperava ','"),
    (b'{"nome":"abc', "texto sem as aspas do fim"),
    (b'{"nome":"a\x01b"}', "caractere de controle dentro de um texto"),
    (b'{"nome":"\\q"}', "escape inválido"),
    (b'{"nome":"\\u12"}', "escape \\u inválido"),
    (b'{"seq":1} {"seq":2}', "há algo depois do fim do JSON"),
])
def test_a_malformed_body_is_explained_in_portuguese_with_where(body, reason):
    with pytest.raises(ValueError) as caught:
        decode_json(body)
    message = str(caught.value)
    assert message.startswith(f"JSON inválido: {reason} (linha 1, coluna ")
    assert not any(english in message for english in ("Expecting", "Invalid", "Unterminated", "Extra data"))
