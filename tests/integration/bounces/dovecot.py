"""A real Dovecot (IMAP and POP3, plain login over loopback) on free high ports, with a generated configuration.

Each test asks for its own user (`new_user`): any name logs in with the one password, and gets its own home
(made on first login), so no test sees another's messages. Messages are put in with IMAP APPEND.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from imapclient import IMAPClient

from app.embedded import free_port

DOVECOT = "/usr/sbin/dovecot"

CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = ignite-test-{imap_port}
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
first_valid_uid = {uid}
{process_users}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


@dataclass(frozen=True)
class MailUser:
    username: str
    password: str


def _mail_owner() -> tuple[int, int, str]:
    """The uid and gid mail is stored under: Dovecot refuses root's, so root runs it as `nobody`. A non-root
    developer runs every Dovecot process as themself."""
    if os.getuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return nobody.pw_uid, nobody.pw_gid, ""
    me = pwd.getpwuid(os.getuid()).pw_name
    return os.getuid(), os.getgid(), f"default_login_user = {me}\ndefault_internal_user = {me}"


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dovecot exited: {log.read_text() if log.exists() else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("dovecot did not start listening")


class Dovecot:
    host = "127.0.0.1"

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ignite-dovecot-"))
        self.root.chmod(0o755)  # the mail owner (nobody) walks through it to its home
        self.imap_port, self.pop3_port = free_port(), free_port()
        self.uid, self.gid, process_users = _mail_owner()
        for folder in ("run", "state", "home"):
            (self.root / folder).mkdir()
        os.chown(self.root / "home", self.uid, self.gid)
        self.password = secrets.token_hex(8)
        config = self.root / "dovecot.conf"
        config.write_text(CONFIG.format(root=self.root, imap_port=self.imap_port, pop3_port=self.pop3_port,
                                        uid=self.uid, gid=self.gid, process_users=process_users,
                                        password=self.password))
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        _wait_for_port(self.imap_port, self.process, self.root / "dovecot.log")
        _wait_for_port(self.pop3_port, self.process, self.root / "dovecot.log")

    def new_user(self) -> MailUser:
        return MailUser(f"bounces-{secrets.token_hex(4)}", self.password)

    def imap(self, user: MailUser) -> IMAPClient:
        client = IMAPClient(self.host, port=self.imap_port, ssl=False, timeout=10)
        client.login(user.username, user.password)
        return client

    def append(self, user: MailUser, *messages: bytes, folder: str = "INBOX") -> None:
        client = self.imap(user)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for message in messages:
                client.append(folder, message)
        finally:
            client.logout()

    def count(self, user: MailUser, folder: str = "INBOX") -> int:
        """Messages in the folder that are not marked deleted."""
        client = self.imap(user)
        try:
            if not client.folder_exists(folder):
                return 0
            client.select_folder(folder, readonly=True)
            return len(client.search(["NOT", "DELETED"]))
        finally:
            client.logout()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
