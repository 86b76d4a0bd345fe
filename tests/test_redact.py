"""PII redaction: what is caught, what is left alone, stable tokens and the workspace map."""

from __future__ import annotations

import json

import pytest

from agent.redact import Redactor, luhn_ok

EMAILS = ["dana.kim@example.com", "ops+billing@sub.acme-corp.co.uk", "X_Y@Mail.ORG"]
PHONES = [
    "+44 20 7946 0958",
    "+1 (415) 555-0134",
    "+49-30-901820",
    "+33 1 42 68 53 00",
    "(212) 555-0199",
    "212-555-0199",
    "212.555.0199",
    "1-800-555-0100",
    "020 7946 0958",
    "0161 496 0735",
    "+1 512 555 0119",
]
CARDS = ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011111111111117"]
NOT_PII = [
    "Invoice 2024-03-15 was due at 10:30.",
    "We paid $1,299.00 for 12 seats in Q3 2023.",
    "Order 4111 1111 1111 1112 failed the check.",  # fails Luhn
    "Version 3.12.1 broke chunk 8f3a9c0d11e2b7a4.",
    "Call me at extension 4402.",
    "Ticket #123456 and ticket #1234567.",
]


@pytest.fixture
def redactor(tmp_path):
    return Redactor(tmp_path / "redaction_map.json")


@pytest.mark.parametrize("value", EMAILS)
def test_emails(redactor, value):
    out = redactor.redact(f"write to {value}, thanks")
    assert value not in out and out == "write to [EMAIL_1], thanks"


@pytest.mark.parametrize("value", PHONES)
def test_phones(redactor, value):
    out = redactor.redact(f"call {value} today")
    assert out == "call [PHONE_1] today"


@pytest.mark.parametrize("value", CARDS)
def test_cards_pass_luhn_and_are_redacted(redactor, value):
    assert luhn_ok("".join(ch for ch in value if ch.isdigit()))
    assert redactor.redact(f"card {value} was declined") == "card [CARD_1] was declined"


@pytest.mark.parametrize("text", NOT_PII)
def test_ordinary_numbers_are_left_alone(redactor, text):
    assert redactor.redact(text) == text


def test_same_value_same_token_and_restore(redactor):
    text = "a@x.io wrote; later a@x.io and b@x.io wrote from +44 20 7946 0958."
    out = redactor.redact(text)
    assert out == "[EMAIL_1] wrote; later [EMAIL_1] and [EMAIL_2] wrote from [PHONE_1]."
    assert redactor.restore(out) == text
    assert redactor.redact(out) == out  # tokens are never redacted again
    assert redactor.restore("unknown [EMAIL_9] stays") == "unknown [EMAIL_9] stays"


def test_map_is_persisted_and_reused_across_runs(tmp_path):
    path = tmp_path / "ws" / "redaction_map.json"
    first = Redactor(path)
    first.redact("mail a@x.io or b@x.io")
    stored = json.loads(path.read_text())
    assert stored["tokens"] == {"[EMAIL_1]": "a@x.io", "[EMAIL_2]": "b@x.io"}
    again = Redactor(path)
    assert again.redact("b@x.io then c@x.io") == "[EMAIL_2] then [EMAIL_3]"
    assert again.restore("[EMAIL_1]") == "a@x.io"


def test_deferred_saves_once(tmp_path):
    path = tmp_path / "map.json"
    redactor = Redactor(path)
    with redactor.deferred():
        for i in range(5):
            redactor.redact(f"user{i}@x.io")
        assert not path.exists()
    assert len(json.loads(path.read_text())["tokens"]) == 5


def test_names_only_when_asked(tmp_path):
    text = "Dana Kim said Dr. Okafor and Priya were on the call."
    plain = Redactor(tmp_path / "a.json")
    assert plain.redact(text) == text
    named = Redactor(tmp_path / "b.json", names=True, known_names=["Dana Kim"])
    out = named.redact(text)
    for name in ("Dana Kim", "Okafor", "Priya"):
        assert name not in out
    assert out.count("[NAME_") == 3 and named.restore(out) == text


def test_names_mode_leaves_ordinary_capitalised_words(tmp_path):
    named = Redactor(tmp_path / "c.json", names=True)
    text = "In May the Bank Feed broke. Will support fix Export?"
    assert named.redact(text) == text


def test_restore_only_what_this_call_redacted(tmp_path):
    redactor = Redactor(tmp_path / "map.json")
    earlier = redactor.redact("from a@x.io")  # as `persona ingest --redact` stored it
    emitted: set[str] = set()
    out = redactor.redact(f"{earlier}, then call +44 20 7946 0958", emitted)
    assert out == "from [EMAIL_1], then call [PHONE_1]" and emitted == {"[PHONE_1]"}
    assert redactor.restore(out, only=emitted) == "from [EMAIL_1], then call +44 20 7946 0958"
    assert redactor.restore(out) == "from a@x.io, then call +44 20 7946 0958"
    message = "quote 'from a@x.io, then call +44 20 7946 0958' is not in chunk c1"
    assert redactor.retokenize(message, emitted) == (
        "quote 'from a@x.io, then call [PHONE_1]' is not in chunk c1"
    )


def test_ids_with_long_digit_runs_are_never_taken_for_card_numbers(tmp_path):
    from agent.redact import Redactor

    redactor = Redactor(tmp_path / "map.json")
    card = "4111111111111111"  # passes Luhn
    chunk_id = f"d{card}e"
    text = f"chunk:{chunk_id} and theme:{card}ab; my card is {card}."
    out = redactor.redact(text)
    assert f"chunk:{chunk_id}" in out and f"theme:{card}ab" in out
    assert out.endswith("my card is [CARD_1].")
