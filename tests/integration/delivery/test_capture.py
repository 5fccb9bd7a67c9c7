"""The development capture keeps the newest messages of each workspace and counts the ones it let go."""

from __future__ import annotations

from app.db.inbox import CapturedMessage
from app.esp.base import OutgoingMessage
from app.esp.capture import CaptureESP, dropped_count
from tests.factories import make_workspace


def _message(workspace_id: int, number: int) -> OutgoingMessage:
    return OutgoingMessage(workspace_id=workspace_id, mail_from="news@example.com",
                           recipients=(f"r{number}@example.org",), raw=b"Subject: x\r\n\r\nbody\r\n",
                           message_id=f"<{number}@example.com>", subject="x")


async def _kept(workspace_id: int) -> list[str]:
    rows = await CapturedMessage.select(CapturedMessage.message_id).where(
        CapturedMessage.workspace_id == workspace_id).order_by(CapturedMessage.id)
    return [row["message_id"] for row in rows]


async def test_only_the_newest_messages_of_a_workspace_are_kept_and_the_rest_counted():
    busy, quiet = await make_workspace(), await make_workspace()
    capture = CaptureESP(keep=5)
    await capture.send([_message(quiet["id"], 100)])
    for first in range(0, 12, 3):
        results = await capture.send([_message(busy["id"], n) for n in range(first, first + 3)])
        assert all(result.accepted for result in results)
    assert await _kept(busy["id"]) == [f"<{n}@example.com>" for n in range(7, 12)]
    assert await dropped_count(busy["id"]) == 7
    assert await _kept(quiet["id"]) == ["<100@example.com>"]
    assert await dropped_count(quiet["id"]) == 0


async def test_a_thousand_messages_are_kept_unless_the_setting_says_otherwise(monkeypatch):
    from app.settings import get_settings

    assert CaptureESP().keep == 1000
    monkeypatch.setenv("CAPTURE_KEEP_PER_WORKSPACE", "3")
    get_settings.cache_clear()
    try:
        workspace = await make_workspace()
        capture = CaptureESP()
        await capture.send([_message(workspace["id"], n) for n in range(4)])
        assert (len(await _kept(workspace["id"])), await dropped_count(workspace["id"])) == (3, 1)
    finally:
        monkeypatch.delenv("CAPTURE_KEEP_PER_WORKSPACE")
        get_settings.cache_clear()


async def test_the_inbox_shows_the_subject_the_recipient_got_not_the_templates():
    workspace = await make_workspace()
    raw = b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_Ada?=\r\n\r\nbody\r\n"
    await CaptureESP().send([OutgoingMessage(workspace_id=workspace["id"], mail_from="news@example.com",
                                             recipients=("ada@example.org",), raw=raw, message_id="<1@example.com>",
                                             subject="{Hi|Grüße} {{ first_name }}")])
    [row] = await CapturedMessage.select(CapturedMessage.subject).where(
        CapturedMessage.workspace_id == workspace["id"])
    assert row["subject"] == "Grüße Ada"
