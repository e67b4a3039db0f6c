"""A real headless Chromium (Debian ``chromium``) driven over the DevTools protocol.

``browser`` (one per test session) starts Chromium with a fresh profile, no network services of
its own (no sync, component updates, QUIC or background networking) and
``--remote-debugging-port=0``; Chromium then writes the port and the browser's websocket path
to ``DevToolsActivePort`` in the profile. :class:`Browser` speaks the protocol over that
websocket (websocket-client), one JSON message per command, and keeps every event it sees.
:meth:`Browser.open_page` makes a new tab with the Page, Network, Runtime and Log domains
enabled, so a test reads what the page requested, logged and threw.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--remote-debugging-port=0")


class Browser:
    """One Chromium process and a DevTools connection to it."""

    def __init__(self, process: subprocess.Popen[bytes], profile: Path, socket: Any) -> None:
        self.process = process
        self.profile = profile
        self.socket = socket
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def call(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """Send one command and return its result; raise on a protocol error."""
        number = next(self._ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self._receive()
            if reply.get("id") == number:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
        raise AssertionError(f"{method}: no answer within {timeout} s")

    def wait_event(self, method: str, session: str, timeout: float = 30.0) -> dict[str, Any]:
        """Return the first event ``method`` of ``session`` (already seen, or waited for)."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            seen = len(self.events)
            if time.monotonic() > deadline:
                raise AssertionError(f"no {method} within {timeout} s")
            self._receive()

    def _receive(self) -> dict[str, Any]:
        message = json.loads(self.socket.recv())
        if "method" in message:
            self.events.append(message)
            if message["method"] == "Page.javascriptDialogOpening":
                # An alert() would block the page (and every later command) until answered.
                self.socket.send(json.dumps({
                    "id": next(self._ids), "method": "Page.handleJavaScriptDialog",
                    "params": {"accept": True}, "sessionId": message.get("sessionId")}))
        return dict(message)

    def open_page(self, url: str, *, width: int = 1280, height: int = 900,
                  color_scheme: str = "light") -> Page:
        """Open ``url`` in a new tab at ``width`` x ``height`` in the given color scheme, and
        return it once its load event fired."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target,
                                                      "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=session)
        page = Page(self, target, session)
        page.emulate(width, height, color_scheme)
        self.call("Page.navigate", {"url": url}, session)
        self.wait_event("Page.loadEventFired", session)
        return page

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


@dataclass
class Page:
    """One tab: evaluate JavaScript, screenshot, print, and read its events."""

    browser: Browser
    target: str
    session: str
    closed: bool = field(default=False)

    def emulate(self, width: int, height: int, color_scheme: str) -> None:
        self.browser.call("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            self.session)
        self.browser.call("Emulation.setEmulatedMedia", {"features": [
            {"name": "prefers-color-scheme", "value": color_scheme}]}, self.session)

    def evaluate(self, expression: str) -> Any:
        """Return the value of a JavaScript expression in the page; raise if it threw."""
        result = self.browser.call("Runtime.evaluate", {
            "expression": expression, "returnByValue": True}, self.session)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def events(self, method: str) -> list[dict[str, Any]]:
        """Return the params of every event ``method`` this tab sent so far."""
        self.evaluate("0")  # a round trip: events sent before it have arrived
        return [event["params"] for event in self.browser.events
                if event.get("method") == method and event.get("sessionId") == self.session]

    def screenshot(self, path: Path) -> Path:
        """Write a PNG of the whole page to ``path``."""
        result = self.browser.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True}, self.session)
        path.write_bytes(base64.b64decode(result["data"]))
        return path

    def pdf(self) -> bytes:
        """Return the page printed to A4 PDF, as the print dialog would (print media)."""
        result = self.browser.call("Page.printToPDF", {
            "paperWidth": 8.27, "paperHeight": 11.69, "preferCSSPageSize": True,
            "printBackground": True}, self.session, timeout=60)
        return base64.b64decode(result["data"])

    def close(self) -> None:
        if not self.closed:
            self.browser.call("Target.closeTarget", {"targetId": self.target})
            self.closed = True


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def start_browser() -> Browser:
    """Start headless Chromium with a fresh profile and connect to its DevTools websocket."""
    import websocket

    binary = find_chromium()
    assert binary is not None
    profile = Path(tempfile.mkdtemp(prefix="syncd-chromium-", dir="/tmp"))
    log = (profile / "chromium.log").open("wb")
    process = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if active.exists():
            lines = active.read_text().split()
            if len(lines) >= 2:
                break
        if process.poll() is not None:
            break
        time.sleep(0.1)
    else:
        lines = []
    if len(lines) < 2:
        process.kill()
        process.wait()
        output = (profile / "chromium.log").read_text(errors="replace")[-2000:]
        shutil.rmtree(profile, ignore_errors=True)
        raise RuntimeError(f"chromium did not open its DevTools port:\n{output}")
    port, path = lines[0], lines[1]
    # Chromium refuses DevTools websockets that send an Origin header it was not told to allow.
    socket = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=60,
                                         suppress_origin=True)
    return Browser(process, profile, socket)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole test run."""
    if find_chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("missing chromium: scripts/test installs it")
        pytest.skip("missing chromium (Debian: chromium)")
    started = start_browser()
    try:
        yield started
    finally:
        started.close()
