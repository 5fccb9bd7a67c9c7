"""Reading a mailbox over IMAP (imapclient) or POP3 (poplib): blocking clients, run in a thread by the caller.

A session lists the messages waiting, fetches one without marking it read, and finishes one (deletes it,
or over IMAP moves it to another folder) only when asked, which the poller does after the report is
stored. Every protocol or network failure becomes a `MailboxError` whose text can be shown to a person.
"""

from __future__ import annotations

import imaplib
import poplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

# Seconds a connect or a single command may take; a mailbox that hangs must not hold its lock for long.
TIMEOUT = 30
# What is read of one message: a report's verdict is in its first parts; the rest is the returned original.
MAX_MESSAGE_BYTES = 1_000_000


T = TypeVar("T")


class MailboxError(RuntimeError):
    """The mailbox could not be reached or read; the text says why in words."""


@dataclass(frozen=True)
class Endpoint:
    protocol: str  # "imap" or "pop3"
    host: str
    port: int
    security: str  # "ssl", "starttls" or "none"
    username: str
    password: str
    folder: str = "INBOX"
    after: str = "delete"  # or "move" (IMAP only)
    move_to: str = ""


class Session(Protocol):
    def waiting(self, limit: int) -> list[str]:
        """Up to `limit` message keys, oldest first; each stays the same for that message until it is finished."""

    def fetch(self, key: str) -> bytes: ...

    def finish(self, key: str) -> None:
        """Delete the message, or move it to the endpoint's `move_to` folder."""

    def describe(self) -> str:
        """What the session found, for a Test connection answer."""

    def close(self) -> None: ...


def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


class ImapSession:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.client = IMAPClient(endpoint.host, port=endpoint.port, ssl=endpoint.security == "ssl",
                                 ssl_context=_tls() if endpoint.security == "ssl" else None, timeout=TIMEOUT)
        try:
            if endpoint.security == "starttls":
                self.client.starttls(_tls())
            self.client.login(endpoint.username, endpoint.password)
            selected = self.client.select_folder(endpoint.folder)
        except BaseException:
            self.close()
            raise
        # A message's key is its UID within this UIDVALIDITY: a folder rebuilt by the server starts a new series.
        self.uidvalidity = int(selected.get(b"UIDVALIDITY", 0))
        self.count = int(selected.get(b"EXISTS", 0))

    def waiting(self, limit: int) -> list[str]:
        uids = sorted(self.client.search(["NOT", "DELETED"]))[:limit]
        return [f"{self.uidvalidity}:{uid}" for uid in uids]

    def _uid(self, key: str) -> int:
        return int(key.rpartition(":")[2])

    def fetch(self, key: str) -> bytes:
        part = f"BODY.PEEK[]<0.{MAX_MESSAGE_BYTES}>"
        answer = self.client.fetch([self._uid(key)], [part]).get(self._uid(key), {})
        body = next((value for name, value in answer.items() if name.startswith(b"BODY[")), None)
        if body is None:
            raise MailboxError(f"The server sent no content for message {key}.")
        return bytes(body)

    def finish(self, key: str) -> None:
        uid = self._uid(key)
        if self.endpoint.after == "move":
            if not self.client.folder_exists(self.endpoint.move_to):
                self.client.create_folder(self.endpoint.move_to)
            if self.client.has_capability("MOVE"):
                self.client.move([uid], self.endpoint.move_to)
                return
            self.client.copy([uid], self.endpoint.move_to)
        self.client.delete_messages([uid])
        if self.client.has_capability("UIDPLUS"):
            self.client.uid_expunge([uid])
        else:
            self.client.expunge()

    def describe(self) -> str:
        noun = "message" if self.count == 1 else "messages"
        found = f"{self.endpoint.folder} holds {self.count} {noun}."
        if self.endpoint.after == "move" and not self.client.folder_exists(self.endpoint.move_to):
            found += f" The folder {self.endpoint.move_to} does not exist yet; the first poll creates it."
        return found

    def close(self) -> None:
        try:
            self.client.logout()
        except (IMAPClientError, imaplib.IMAP4.error, OSError):
            self.client.shutdown()


class Pop3Session:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        if endpoint.security == "ssl":
            self.client: poplib.POP3 = poplib.POP3_SSL(endpoint.host, endpoint.port, timeout=TIMEOUT,
                                                       context=_tls())
        else:
            self.client = poplib.POP3(endpoint.host, endpoint.port, timeout=TIMEOUT)
        try:
            if endpoint.security == "starttls":
                self.client.stls(_tls())
            self.client.user(endpoint.username)
            self.client.pass_(endpoint.password)
            self.numbers = self._numbers_by_uid()
        except BaseException:
            self.client.close()
            raise

    def _numbers_by_uid(self) -> dict[str, int]:
        """Each message's UIDL (stable across sessions) with its number in this session."""
        _, lines, _ = self.client.uidl()
        numbers: dict[str, int] = {}
        for line in lines:
            number, _, uid = line.decode("ascii", "replace").partition(" ")
            numbers[uid.strip()] = int(number)
        return numbers

    def waiting(self, limit: int) -> list[str]:
        return sorted(self.numbers, key=self.numbers.__getitem__)[:limit]

    def fetch(self, key: str) -> bytes:
        _, lines, _ = self.client.retr(self.numbers[key])
        return b"\r\n".join(lines)[:MAX_MESSAGE_BYTES] + b"\r\n"

    def finish(self, key: str) -> None:
        # Marked now, removed by the server at QUIT: a session that dies before it leaves the message, and the
        # next poll finds its report already stored.
        self.client.dele(self.numbers[key])

    def describe(self) -> str:
        noun = "message" if len(self.numbers) == 1 else "messages"
        return f"The inbox holds {len(self.numbers)} {noun}."

    def close(self) -> None:
        try:
            self.client.quit()
        except (poplib.error_proto, OSError):
            self.client.close()


PROTOCOL_ERRORS = (IMAPClientError, imaplib.IMAP4.error, poplib.error_proto, OSError)


def open_session(endpoint: Endpoint) -> Session:
    """A logged-in session on the endpoint's folder; MailboxError in words when that fails."""
    return guarded(endpoint, Pop3Session if endpoint.protocol == "pop3" else ImapSession, endpoint)


def guarded(endpoint: Endpoint, call: Callable[..., T], *args: object) -> T:
    """`call(*args)`, with any failure of the server or the network turned into a MailboxError in words."""
    try:
        return call(*args)
    except PROTOCOL_ERRORS as exc:
        raise MailboxError(explained(exc, endpoint)) from exc


def explained(exc: BaseException, endpoint: Endpoint) -> str:
    """A failure of the mailbox's server or network, said so that the person who set it up can act on it."""
    where = f"{endpoint.host}:{endpoint.port}"
    if isinstance(exc, MailboxError):
        return str(exc)
    if isinstance(exc, socket.gaierror):
        return f"The host {endpoint.host} was not found."
    if isinstance(exc, ConnectionRefusedError):
        return f"Nothing answers at {where} (connection refused)."
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"{where} did not answer within {TIMEOUT} seconds."
    if isinstance(exc, ssl.SSLError):
        return f"The TLS handshake with {where} failed: {exc}. Check the port and the security setting."
    if isinstance(exc, IMAPClientError | imaplib.IMAP4.error | poplib.error_proto):
        return f"{endpoint.protocol.upper()} server at {where} said: {_text(exc)}"
    return f"{where}: {exc.__class__.__name__}: {exc}"


def _text(exc: BaseException) -> str:
    text = str(exc.args[0] if exc.args else exc)
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    return text
