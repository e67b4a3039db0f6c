"""Real CalDAV/CardDAV servers for tests: Radicale (htpasswd auth) and Xandikos, on 127.0.0.1.

Fixtures ``radicale`` and ``xandikos`` (session scope) start one server each in a temporary
directory; tests make their own user or calendar so they never see each other's data. Events
are written with plain HTTP PUT/DELETE (what any client does), so a test reads as "the user
added an event", and the connector under test is the only CalDAV *reader*.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from secrets_registry import secret


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout} s")


#: The password of every Radicale test user (Xandikos asks for none).
DAV_PASSWORD = secret("Rd4-syncd-dav-pw-9Qm")


@dataclass
class CaldavServer:
    """A running server: its base URL and how to reach one user's calendars."""

    kind: str
    base: str
    root: Path
    password: str = DAV_PASSWORD

    def new_user(self) -> str:
        """Return a fresh user name (Radicale: any name logs in once in the htpasswd file)."""
        if self.kind == "xandikos":
            return "user"
        user = f"u{uuid.uuid4().hex[:8]}"
        with (self.root / "users").open("a") as users:
            users.write(f"{user}:{self.password}\n")
        return user

    def auth(self, user: str) -> tuple[str, str]:
        return (user, self.password)

    def make_calendar(self, user: str, slug: str | None = None) -> str:
        """Create a calendar (MKCALENDAR, RFC 4791 §5.3.1) and return its URL."""
        slug = slug or f"cal{uuid.uuid4().hex[:6]}"
        if self.kind == "xandikos":
            url = f"{self.base}/user/calendars/{slug}/"
        else:
            url = f"{self.base}/{user}/{slug}/"
        body = ('<?xml version="1.0" encoding="utf-8"?><c:mkcalendar xmlns:d="DAV:" '
                'xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>'
                f"{slug}</d:displayname></d:prop></d:set></c:mkcalendar>")
        if self.kind != "xandikos":
            requests.request("PROPFIND", f"{self.base}/{user}/", auth=self.auth(user),
                             headers={"Depth": "0"}, timeout=10)
        response = requests.request("MKCALENDAR", url, data=body, auth=self.auth(user),
                                    timeout=10)
        assert response.status_code in (200, 201), (response.status_code, response.text)
        return url

    def make_address_book(self, user: str, slug: str | None = None) -> str:
        """Create an address book (extended MKCOL, RFC 5689 / RFC 6352 §6.3.1); return its URL."""
        slug = slug or f"book{uuid.uuid4().hex[:6]}"
        if self.kind == "xandikos":
            url = f"{self.base}/user/contacts/{slug}/"
        else:
            url = f"{self.base}/{user}/{slug}/"
            requests.request("PROPFIND", f"{self.base}/{user}/", auth=self.auth(user),
                             headers={"Depth": "0"}, timeout=10)
        body = ('<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" '
                'xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype>'
                "<d:collection/><card:addressbook/></d:resourcetype><d:displayname>"
                f"{slug}</d:displayname></d:prop></d:set></d:mkcol>")
        response = requests.request("MKCOL", url, data=body, auth=self.auth(user), timeout=10)
        assert response.status_code in (200, 201), (response.status_code, response.text)
        return url

    def put_card(self, book_url: str, user: str, name: str, vcf: str) -> None:
        response = requests.put(book_url + name, data=vcf.encode(), auth=self.auth(user),
                                headers={"Content-Type": "text/vcard; charset=utf-8"},
                                timeout=10)
        assert response.status_code in (201, 204), (response.status_code, response.text)

    def put(self, calendar_url: str, user: str, name: str, ics: str) -> None:
        response = requests.put(calendar_url + name, data=ics.encode(), auth=self.auth(user),
                                headers={"Content-Type": "text/calendar; charset=utf-8"},
                                timeout=10)
        assert response.status_code in (201, 204), (response.status_code, response.text)

    def delete(self, calendar_url: str, user: str, name: str) -> None:
        response = requests.delete(calendar_url + name, auth=self.auth(user), timeout=10)
        assert response.status_code in (200, 204), response.status_code

    def options(self, user: str, **extra: object) -> dict[str, object]:
        """Return [sources.NAME] options for this user (password via password_command)."""
        url = f"{self.base}/user/" if self.kind == "xandikos" else f"{self.base}/"
        return {"url": url, "username": user,
                "password_command": f"echo {self.password}", **extra}


@pytest.fixture(scope="session")
def radicale(tmp_path_factory) -> Iterator[CaldavServer]:
    root = tmp_path_factory.mktemp("radicale")
    (root / "users").write_text("")
    port = free_port()
    (root / "config").write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {root / 'users'}\n"
        "htpasswd_encryption = plain\n"
        f"[storage]\nfilesystem_folder = {root / 'collections'}\n"
        "[logging]\nlevel = warning\n")
    process = subprocess.Popen([sys.executable, "-m", "radicale", "--config",
                                str(root / "config")], stdout=subprocess.DEVNULL,
                               stderr=(root / "log").open("wb"))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/", process)
        yield CaldavServer("radicale", base, root)
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="session")
def xandikos(tmp_path_factory) -> Iterator[CaldavServer]:
    root = tmp_path_factory.mktemp("xandikos")
    port = free_port()
    # --defaults makes the principal /user/ with calendars/calendar; no auth (tests only).
    process = subprocess.Popen([sys.executable, "-m", "xandikos", "--defaults", "-d",
                                str(root / "data"), "-l", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=(root / "log").open("wb"))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/", process)
        yield CaldavServer("xandikos", base, root)
    finally:
        process.terminate()
        process.wait(10)
