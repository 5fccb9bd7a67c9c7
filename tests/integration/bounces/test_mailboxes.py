"""Bounce mailboxes polled over IMAP and POP3 against a real Dovecot: every message stored once as a report,
removed only after that, one poller at a time."""

from __future__ import annotations

import asyncio

import pytest

from app.db.bounce_mailboxes import BounceMailbox
from app.redis_client import get_redis
from app.services.bounces import intake, mail_access, mailboxes, polling
from app.services.bounces.mailboxes import MailboxFormError
from tests.factories import make_workspace
from tests.integration.bounces.helpers_mailboxes import dovecot, dsn, mailbox_form

__all__ = ["dovecot"]


async def _reports() -> list[dict]:
    return await BounceMailbox.raw(
        "SELECT id, workspace_id, source, source_ref, raw FROM bounce_reports ORDER BY id")


async def _mailbox(dovecot, **overrides) -> tuple[dict, dict, object]:
    workspace = await make_workspace()
    user = dovecot.new_user()
    mailbox = await mailboxes.create_mailbox(workspace["id"], mailbox_form(dovecot, user, **overrides))
    return workspace, mailbox, user


async def test_an_imap_poll_stores_each_message_as_a_report_then_deletes_it(dovecot):
    workspace, mailbox, user = await _mailbox(dovecot)
    messages = [dsn(f"gone{n}@example.org") for n in range(3)]
    dovecot.append(user, *messages)

    result = await polling.poll(mailbox, get_redis())

    assert (result.fetched, len(result.report_ids), result.error) == (3, 3, "")
    reports = await _reports()
    assert [row["id"] for row in reports] == list(result.report_ids)
    assert {(row["workspace_id"], row["source"]) for row in reports} == {(workspace["id"], "imap")}
    assert sorted(bytes(row["raw"]) for row in reports) == sorted(messages)
    assert dovecot.count(user) == 0
    stored = await mailboxes.get_mailbox(workspace["id"], mailbox["id"])
    assert stored["last_polled_at"] is not None
    assert stored["last_result"] == "Read 3 messages: 3 new reports queued for processing."
    again = await polling.poll(mailbox, get_redis())
    assert (again.fetched, again.report_ids) == (0, ())


async def test_an_imap_poll_can_move_processed_messages_to_a_folder_it_creates(dovecot):
    _, mailbox, user = await _mailbox(dovecot, after="move", move_to="Processed")
    dovecot.append(user, dsn("a@example.org"), dsn("b@example.org"))

    result = await polling.poll(mailbox, get_redis())

    assert len(result.report_ids) == 2
    assert (dovecot.count(user), dovecot.count(user, "Processed")) == (0, 2)


async def test_an_imap_poll_reads_the_folder_it_is_given(dovecot):
    _, mailbox, user = await _mailbox(dovecot, folder="Bounces")
    dovecot.append(user, dsn("a@example.org"), folder="Bounces")
    dovecot.append(user, b"Subject: not a bounce\r\n\r\nkept\r\n")

    result = await polling.poll(mailbox, get_redis())

    assert result.fetched == 1
    assert (dovecot.count(user, "Bounces"), dovecot.count(user)) == (0, 1)


async def test_a_pop3_poll_stores_each_message_once_and_deletes_it(dovecot):
    _, mailbox, user = await _mailbox(dovecot, protocol="pop3", port=str(dovecot.pop3_port), folder="")
    messages = [dsn("a@example.org"), dsn("b@example.org")]
    dovecot.append(user, *messages)

    result = await polling.poll(mailbox, get_redis())

    assert (result.fetched, len(result.report_ids), result.error) == (2, 2, "")
    reports = await _reports()
    assert {row["source"] for row in reports} == {"pop3"}
    assert sorted(bytes(row["raw"]) for row in reports) == sorted(messages)
    assert dovecot.count(user) == 0


async def test_two_concurrent_pollers_never_read_the_same_mailbox(dovecot):
    _, mailbox, user = await _mailbox(dovecot)
    dovecot.append(user, *[dsn(f"gone{n}@example.org") for n in range(5)])

    first, second = await asyncio.gather(polling.poll(mailbox, get_redis()), polling.poll(mailbox, get_redis()))

    assert sorted([first.busy, second.busy]) == [False, True]
    assert len(first.report_ids) + len(second.report_ids) == 5
    assert len(await _reports()) == 5
    assert await get_redis().get(polling.lock_key(mailbox["id"])) is None


async def test_a_crash_before_the_report_is_committed_leaves_the_message_for_the_next_poll(dovecot, monkeypatch):
    _, mailbox, user = await _mailbox(dovecot)
    dovecot.append(user, *[dsn(f"gone{n}@example.org") for n in range(3)])
    real_accept = intake.accept
    calls = 0

    async def crashing_on_the_second(incoming: intake.Incoming) -> int | None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("the database went away")
        return await real_accept(incoming)

    monkeypatch.setattr(intake, "accept", crashing_on_the_second)
    with pytest.raises(ConnectionError):
        await polling.poll(mailbox, get_redis())
    assert len(await _reports()) == 1
    assert dovecot.count(user) == 2

    monkeypatch.setattr(intake, "accept", real_accept)
    result = await polling.poll(mailbox, get_redis())

    assert len(result.report_ids) == 2
    assert len(await _reports()) == 3
    assert dovecot.count(user) == 0


async def test_a_crash_after_the_commit_stores_the_report_once_and_the_next_poll_removes_the_message(
        dovecot, monkeypatch):
    _, mailbox, user = await _mailbox(dovecot)
    dovecot.append(user, dsn("gone@example.org"))

    def dying(self, key: str) -> None:
        raise OSError("connection reset by peer")

    with monkeypatch.context() as patched:
        patched.setattr(mail_access.ImapSession, "finish", dying)
        failed = await polling.poll(mailbox, get_redis())
    assert failed.error and len(failed.report_ids) == 1
    assert dovecot.count(user) == 1

    result = await polling.poll(mailbox, get_redis())

    assert (result.fetched, result.report_ids, result.already_stored) == (1, (), 1)
    assert len(await _reports()) == 1
    assert dovecot.count(user) == 0


async def test_a_wrong_password_is_said_on_the_mailbox_and_by_test_connection(dovecot):
    workspace, mailbox, user = await _mailbox(dovecot)
    await mailboxes.update_mailbox(workspace["id"], mailbox["id"], mailbox_form(dovecot, user, password="wrong"))
    stored = await mailboxes.get_mailbox(workspace["id"], mailbox["id"])

    result = await polling.poll(stored, get_redis())
    check = await mailboxes.test_connection(workspace["id"], mailbox["id"])

    assert "IMAP server at" in result.error and "AUTHENTICATIONFAILED" in result.error.upper()
    stored = await mailboxes.get_mailbox(workspace["id"], mailbox["id"])
    assert stored["last_error"] == result.error
    assert stored["last_result"] == "Could not read the mailbox."
    assert not check.ok and "AUTHENTICATIONFAILED" in check.detail.upper()
    assert await get_redis().get(polling.lock_key(mailbox["id"])) is None


async def test_test_connection_says_what_the_folder_holds_and_reads_nothing(dovecot):
    workspace, mailbox, user = await _mailbox(dovecot, after="move", move_to="Done")
    dovecot.append(user, dsn("a@example.org"), dsn("b@example.org"))

    check = await mailboxes.test_connection(workspace["id"], mailbox["id"])

    assert check.ok
    assert check.detail == (f"Logged in to 127.0.0.1 as {user.username}. INBOX holds 2 messages. The folder Done "
                            "does not exist yet; the first poll creates it.")
    assert dovecot.count(user) == 2
    assert await _reports() == []


async def test_nothing_listening_is_said_in_words(dovecot):
    from app.embedded import free_port

    workspace, mailbox, _ = await _mailbox(dovecot, port=str(free_port()))

    check = await mailboxes.test_connection(workspace["id"], mailbox["id"])

    assert not check.ok and check.detail.endswith("(connection refused).")


async def test_the_password_is_stored_encrypted_and_kept_when_the_form_leaves_it_empty(dovecot):
    workspace, mailbox, user = await _mailbox(dovecot)
    assert user.password not in mailbox["password"]

    await mailboxes.update_mailbox(workspace["id"], mailbox["id"],
                                   mailbox_form(dovecot, user, password="", name="Renamed"))

    assert (await mailboxes.test_connection(workspace["id"], mailbox["id"])).ok


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"protocol": "pop3", "after": "move", "move_to": "Done"}, "after", "POP3 has no folders"),
    ({"after": "move", "move_to": ""}, "move_to", "Name the folder"),
    ({"after": "move", "move_to": "INBOX"}, "move_to", "would read them again"),
    ({"host": "imaps://mail.example.com"}, "host", "Enter a host name"),
    ({"port": "70000"}, "port", "from 1 to 65535"),
    ({"poll_seconds": "5"}, "poll_seconds", "from 30 to 86400"),
    ({"password": ""}, "password", "Enter the mailbox's password"),
    ({"security": "tls1"}, "security", "Choose one of"),
])
async def test_bad_settings_are_refused_next_to_their_field_and_nothing_is_saved(dovecot, overrides, field, message):
    workspace = await make_workspace()
    user = dovecot.new_user()

    with pytest.raises(MailboxFormError) as refused:
        await mailboxes.create_mailbox(workspace["id"], mailbox_form(dovecot, user, **overrides))

    assert message in refused.value.errors[field]
    assert await mailboxes.mailboxes(workspace["id"]) == []


async def test_a_mailbox_of_another_workspace_is_not_found(dovecot):
    _, mailbox, _ = await _mailbox(dovecot)
    other = await make_workspace()

    with pytest.raises(LookupError):
        await mailboxes.get_mailbox(other["id"], mailbox["id"])
    with pytest.raises(LookupError):
        await mailboxes.test_connection(other["id"], mailbox["id"])
    with pytest.raises(LookupError):
        await mailboxes.delete_mailbox(other["id"], mailbox["id"])


async def test_enabled_mailboxes_are_due_until_polled_within_their_interval(dovecot):
    _, due, _ = await _mailbox(dovecot)
    _, disabled, _ = await _mailbox(dovecot, enabled="")
    assert [row["id"] for row in await mailboxes.due_mailboxes()] == [due["id"]]

    await polling.poll(due, get_redis())

    assert await mailboxes.due_mailboxes() == []
    assert disabled["enabled"] is False


async def test_a_security_setting_the_server_does_not_speak_is_said_in_words(dovecot):
    workspace, mailbox, _ = await _mailbox(dovecot, security="ssl")

    check = await mailboxes.test_connection(workspace["id"], mailbox["id"])

    assert not check.ok
    assert check.detail.startswith(f"The TLS handshake with 127.0.0.1:{dovecot.imap_port} failed")
    assert check.detail.endswith("Check the port and the security setting.")
