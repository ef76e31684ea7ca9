"""Command validation and the handler's rejections, on a real store."""

from __future__ import annotations

import json

import pytest
from gestured.user.commands import CommandError, parse_command
from gestured.user.handler import CommandHandler
from gestured.user.store import UserStore

BAD_COMMANDS = [
    ("record", b"x" * 4097, "exceeds the limit"),
    ("record", b"{not json", "not valid UTF-8 JSON"),
    ("record", b"\xff\xfe", "not valid UTF-8 JSON"),
    ("record", b"[1, 2]", "must be a JSON object"),
    ("record", b'"three"', "must be a JSON object"),
    ("record", b'{"label": "three", "extra": 1}', "unknown field(s) extra"),
    ("record", b"{}", "needs the field label"),
    ("record", b'{"label": 3}', "label must be a string"),
    ("record", b'{"label": "th ree"}', "invalid label"),
    ("record", b'{"label": "../etc"}', "invalid label"),
    ("record", b'{"label": "__base__"}', "reserved"),
    ("record", b'{"label": "a", "samples": true}', "samples must be an integer"),
    ("record", b'{"label": "a", "samples": 5.0}', "samples must be an integer"),
    ("record", b'{"label": "a", "samples": 0}', "between 1 and 500"),
    ("record", b'{"label": "a", "samples": 501}', "between 1 and 500"),
    ("record", b'{"label": "a", "countdown": false}', "countdown must be a number"),
    ("record", b'{"label": "a", "countdown": 31}', "between 0 and 30"),
    ("record", b'{"label": "a", "timeout": 0.5}', "between 1 and 300"),
    ("record", b'{"label": "a", "timeout": "9"}', "timeout must be a number"),
    ("record", b'{"label": "a", "family": "nope"}', "family must be one of"),
    ("record", b'{"label": "a", "request_id": "a b"}', "request_id must be"),
    ("delete", b'{"request_id": "d"}', "needs the field label"),
    ("list", b'{"label": "a"}', "unknown field(s) label"),
    ("train", b"{}", "unknown command 'train'"),
]


@pytest.mark.parametrize(("name", "payload", "expected"), BAD_COMMANDS)
def test_bad_command_rejected(name, payload, expected):
    with pytest.raises(CommandError) as caught:
        parse_command(name, payload)
    assert expected in str(caught.value)


def test_record_defaults_filled():
    request = parse_command("record", b'{"label": "wave"}').record_request()
    assert request.family == "static_single"
    assert request.samples == 50
    assert request.countdown == 3.0
    assert request.timeout == 60.0


def test_request_id_kept_on_rejection():
    with pytest.raises(CommandError) as caught:
        parse_command("record", b'{"label": "a", "samples": -1, "request_id": "q7"}')
    assert caught.value.request_id == "q7"


@pytest.fixture
def handler_and_replies(tmp_path, kinivi_background):
    replies, models = [], {}
    handler = CommandHandler(
        UserStore(tmp_path),
        lambda *reply: replies.append(reply),
        background_for=lambda family: kinivi_background,
        on_model=models.__setitem__,
    )
    return handler, replies


@pytest.mark.parametrize(("name", "payload", "expected"), BAD_COMMANDS)
def test_handler_rejects_and_changes_nothing(
    handler_and_replies, tmp_path, caplog, name, payload, expected
):
    handler, replies = handler_and_replies
    handler.handle(name, payload)
    assert len(replies) == 1
    assert replies[0][1] is False
    assert expected in replies[0][2]
    assert not handler.recording
    assert list((tmp_path / "samples").iterdir()) == []
    assert any("Rejected" in record.message for record in caplog.records)


def test_second_record_rejected(handler_and_replies, caplog):
    handler, replies = handler_and_replies
    handler.handle("record", b'{"label": "a", "request_id": "first"}')
    assert handler.recording
    assert replies == []
    handler.handle("record", b'{"label": "b", "request_id": "second"}')
    assert replies[-1][:2] == ("second", False)
    assert "already running" in replies[-1][2]
    assert "second" in caplog.text
    # A delete while recording is rejected too; list still works.
    handler.handle("delete", b'{"label": "a", "request_id": "d1"}')
    assert replies[-1][:2] == ("d1", False)
    handler.handle("list", b'{"request_id": "l1"}')
    assert replies[-1][:2] == ("l1", True)
    assert replies[-1][3]["recording"]["request_id"] == "first"


def test_delete_unknown_label(handler_and_replies):
    handler, replies = handler_and_replies
    handler.handle("delete", json.dumps({"label": "ghost", "request_id": "x"}).encode())
    assert replies[-1][:2] == ("x", False)
    assert "no samples of label ghost" in replies[-1][2]


def test_long_number_truncated_in_reply():
    payload = b'{"label": "a", "samples": ' + b"9" * 3000 + b"}"
    with pytest.raises(CommandError) as caught:
        parse_command("record", payload)
    assert len(str(caught.value)) < 200
    assert "3000 chars" in str(caught.value)


def test_record_for_family_without_model(tmp_path, kinivi_background):
    replies = []
    handler = CommandHandler(
        UserStore(tmp_path),
        lambda *reply: replies.append(reply),
        background_for=lambda family: kinivi_background,
        on_model=lambda family, model: None,
        families=("static_single",),
    )
    payload = {"label": "clap", "family": "static_double", "request_id": "r2"}
    handler.handle("record", json.dumps(payload).encode())
    assert not handler.recording
    assert replies[-1][:2] == ("r2", False)
    assert "no base model loaded" in replies[-1][2]
    assert "static_single" in replies[-1][2]
