"""Real mail servers for the email approval tests: an aiosmtpd sink and a throw-away dovecot IMAP server.

The SMTP sink keeps every message the agent sends. Dovecot (Debian's `dovecot-imapd`) runs in the
foreground from a temp directory with its own config, a passwd-file user and a maildir, on a free
high port on 127.0.0.1; nothing of the system's dovecot configuration is used or changed.
"""

from __future__ import annotations

import email
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from imapclient import IMAPClient


class MailServerUnavailable(Exception):
    """The IMAP server cannot be started here (dovecot is not installed, or refused to start)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpSink:
    """An SMTP server that accepts everything and remembers it."""

    port: int = 0
    messages: list[Delivered] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(Delivered(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def start(self) -> SmtpSink:
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()

    def take(self) -> list[Delivered]:
        """Messages received since the last call."""
        with self.lock:
            taken, self.messages = self.messages, []
        return taken


DOVECOT_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
{internal_users}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
"""


@dataclass
class ThrowawayDovecot:
    root: Path
    port: int
    username: str
    password: str
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, username: str = "approvals@example.com", password: str = "imap-secret") -> ThrowawayDovecot:
        binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
        if binary is None:
            raise MailServerUnavailable("dovecot is not installed (apt-get install dovecot-imapd)")
        root = Path(tempfile.mkdtemp(prefix="pma-imap-"))
        root.chmod(0o755)
        if os.geteuid() == 0:  # dovecot will not give mail access to uid 0: use nobody's
            owner = pwd.getpwnam("nobody")
            uid, gid, internal = owner.pw_uid, owner.pw_gid, ""
        else:
            me = pwd.getpwuid(os.geteuid())
            uid, gid = me.pw_uid, me.pw_gid
            internal = f"default_internal_user = {me.pw_name}\ndefault_login_user = {me.pw_name}\n"
        for sub in ("run", "state", "home"):
            (root / sub).mkdir()
        os.chown(root / "home", uid, gid)
        port = free_port()
        (root / "passwd").write_text(f"{username}:{{PLAIN}}{password}\n")
        (root / "dovecot.conf").write_text(DOVECOT_CONFIG.format(root=root, uid=uid, gid=gid, port=port,
                                                                 internal_users=internal))
        process = subprocess.Popen([binary, "-F", "-c", str(root / "dovecot.conf")], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        server = cls(root=root, port=port, username=username, password=password, process=process)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if process.poll() is not None:
                error = process.stderr.read().decode() if process.stderr else ""
                raise MailServerUnavailable(f"dovecot exited: {error.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                    if sock.recv(64).startswith(b"* OK"):
                        return server
            except OSError:
                time.sleep(0.05)
        server.stop()
        raise MailServerUnavailable("dovecot did not answer within 15 s")

    def client(self) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(self.username, self.password)
        return client

    def deliver(self, message: EmailMessage | bytes, folder: str = "INBOX") -> None:
        """What the MTA does when a reply arrives: put it in the mailbox."""
        raw = message if isinstance(message, bytes) else message.as_bytes()
        with self.client() as client:
            client.append(folder, raw)

    def empty(self, folder: str = "INBOX") -> None:
        with self.client() as client:
            client.select_folder(folder)
            uids = client.search(["ALL"])
            if uids:
                client.delete_messages(uids)
                client.expunge()

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        with self.client() as client:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            return {int(uid): tuple(data) for uid, data in client.get_flags(uids).items()} if uids else {}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        shutil.rmtree(self.root, ignore_errors=True)
