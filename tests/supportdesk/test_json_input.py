"""The one loader for JSON from outside, and the API's parser built on it: what the desk cannot
hold (deep nesting, NUL, lone surrogates, NaN, infinite numbers) is a clear 400, never a 500."""

from __future__ import annotations

import pytest

from supportdesk.json_input import MAX_DEPTH, JsonInputError, json_loads

pytestmark = pytest.mark.django_db

REFUSED = {
    "deep list": ("[" * 100_000 + "]" * 100_000, "nest"),
    "deep object": ('{"a": ' * 3000 + "1" + "}" * 3000, "nest"),
    "one level too deep": ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nest"),
    "NUL in a value": ('{"a": "x\\u0000y"}', "NUL"),
    "NUL in a key": ('{"x\\u0000y": 1}', "NUL"),
    "lone high surrogate": ('["\\ud800"]', "surrogate"),
    "lone low surrogate in a key": ('{"\\udc00": 1}', "surrogate"),
    "NaN": ("[NaN]", "NaN"),
    "Infinity": ('{"a": -Infinity}', "Infinity"),
    "a number that overflows to infinity": ("[1e999]", "too large"),
    "an integer past Python's digit limit": ("[" + "9" * 5000 + "]", "JSON"),
    "not UTF-8": (b'{"a": "\xff"}', "UTF-8"),
    "not JSON": ("{not json", "JSON"),
}


@pytest.mark.parametrize(("raw", "words"), REFUSED.values(), ids=REFUSED.keys())
def test_what_the_desk_cannot_hold_is_refused_saying_why(raw, words):
    with pytest.raises(JsonInputError) as refused:
        json_loads(raw)

    assert refused.value.code == "bad_json" and refused.value.status_code == 400
    assert words in refused.value.message


def test_ordinary_json_reads_as_json_does():
    raw = '{"a": [1, 2.5, "\\ud83d\\ude00 ok", null, true, {"b": "' + "x" * 1000 + '"}], "c": {}}'

    assert json_loads(raw) == {"a": [1, 2.5, "\U0001F600 ok", None, True, {"b": "x" * 1000}], "c": {}}
    assert json_loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None


@pytest.mark.parametrize(("raw", "words"), [REFUSED["deep list"], REFUSED["NUL in a value"],
                                            REFUSED["lone high surrogate"], REFUSED["NaN"]],
                         ids=["deep", "NUL", "surrogate", "NaN"])
def test_the_api_parser_answers_a_400_in_the_error_shape(agent_client, raw, words):
    response = agent_client.post("/api/v1/contacts/", data=raw, content_type="application/json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error" and words in error["message"]


def test_nul_inside_a_contacts_attributes_is_a_400(agent_client):
    body = {"kind": "customer", "external_id": "C-NUL", "attributes": {"note": "a\u0000b"}}

    response = agent_client.post("/api/v1/contacts/", body, format="json")

    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"
