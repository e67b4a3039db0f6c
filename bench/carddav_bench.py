"""CardDAV benchmark: the first sync and a no-change poll of a 2,000-card address book.

Run: python bench/carddav_bench.py
Starts a Radicale on 127.0.0.1 whose address book holds 2,000 vCards (written to its storage
before it starts), then times, in this process:

- baseline: one raw ``PROPFIND Depth: 1`` of ``DAV:getetag`` on the address book (the least any
  client must do to learn what the collection holds);
- first sync: discovery, sync-collection with an empty token, 20 addressbook-multiget REPORTs
  and the vCard -> Card conversion of all 2,000 cards;
- no-change poll: a pass from the first sync's cursor (one sync-collection REPORT).

Each is the best of 3 runs (a fresh connector each time) and is printed with its ratio to the
baseline and its request count. Target: a no-change poll costs one request and no more than the
baseline listing.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.contacts._vcard import parse_one
from connectors.contacts.carddav import CarddavConnector
from syncd.model import Page

CARDS = 2000
T = TypeVar("T")
USER, PASSWORD = "bench", "bench-pw"
RUNS = 3


def vcard(index: int) -> str:
    return ("BEGIN:VCARD\r\nVERSION:3.0\r\n"
            f"UID:card-{index}@bench\r\nFN:Person {index}\r\nN:{index};Person;;;\r\n"
            f"EMAIL;TYPE=INTERNET:p{index}@example.com\r\n"
            f"EMAIL;TYPE=INTERNET:person.{index}@work.example\r\n"
            f"CATEGORIES:{'Close friends' if index % 10 == 0 else 'Work'}\r\n"
            f"BDAY:19{50 + index % 50}-{1 + index % 12:02d}-{1 + index % 28:02d}\r\n"
            "END:VCARD\r\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def drain(connector: CarddavConnector, cursor: str | None) -> tuple[int, str | None]:
    records, last = 0, cursor
    for page in connector.pull(cursor, set()):
        assert isinstance(page, Page)
        records += len(page.records)
        last = page.cursor or last
    return records, last


def best(action: Callable[[], T]) -> tuple[float, T]:
    times: list[float] = []
    for _ in range(RUNS):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "users").write_text(f"{USER}:{PASSWORD}\n")
        book = root / "collections" / "collection-root" / USER / "contacts"
        book.mkdir(parents=True)
        (book / ".Radicale.props").write_text('{"tag": "VADDRESSBOOK", "D:displayname": '
                                              '"contacts"}')
        for index in range(CARDS):
            (book / f"card-{index}.vcf").write_text(vcard(index))
        port = free_port()
        (root / "config").write_text(
            f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = htpasswd\n"
            f"htpasswd_filename = {root / 'users'}\nhtpasswd_encryption = plain\n"
            f"[storage]\nfilesystem_folder = {root / 'collections'}\n[logging]\nlevel = warning\n")
        process = subprocess.Popen([sys.executable, "-m", "radicale", "--config",
                                    str(root / "config")], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    requests.get(base + "/", timeout=1)
                    break
                except requests.RequestException:
                    time.sleep(0.1)
            session = requests.Session()
            session.auth = (USER, PASSWORD)
            body = ('<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop>'
                    "<d:getetag/></d:prop></d:propfind>")

            def listing() -> int:
                response = session.request("PROPFIND", f"{base}/{USER}/contacts/", data=body,
                                           headers={"Depth": "1"}, timeout=900)
                assert response.status_code == 207
                return response.text.count("<D:response>") + response.text.count(
                    "<d:response>")

            started = time.perf_counter()
            listing()  # Radicale parses and caches every item on its first listing
            print(f"(Radicale's cold first listing: {time.perf_counter() - started:.1f} s)")
            drain(CarddavConnector("bench", {"url": base + "/", "username": USER,
                                             "password_command": f"echo {PASSWORD}"},
                                   ZoneInfo("UTC")), None)  # warms Radicale's item cache
            baseline, _ = best(listing)
            options = {"url": base + "/", "username": USER,
                       "password_command": f"echo {PASSWORD}"}
            connectors: list[CarddavConnector] = []

            def first_sync() -> tuple[int, str | None]:
                connectors.append(CarddavConnector("bench", options, ZoneInfo("UTC")))
                return drain(connectors[-1], None)

            first, (records, cursor) = best(first_sync)
            assert records == CARDS, records
            first_requests = connectors[-1].requests_made
            polls: list[CarddavConnector] = []

            def poll() -> tuple[int, str | None]:
                polls.append(CarddavConnector("bench", options, ZoneInfo("UTC")))
                return drain(polls[-1], cursor)

            no_change, (changed, _) = best(poll)
            assert changed == 0
            print(f"address book: {CARDS} vCards on Radicale (best of {RUNS})")
            print(f"baseline PROPFIND Depth:1 getetag: {baseline * 1000:8.1f} ms  (1 request)")
            print(f"first sync:                        {first * 1000:8.1f} ms  "
                  f"({first_requests} requests)  ratio {first / baseline:5.2f}")
            texts = [vcard(index) for index in range(CARDS)]
            convert, _ = best(lambda: [parse_one(text, str(n)) for n, text in enumerate(texts)])
            print(f"  of which vCard -> Card (vobject): {convert * 1000:8.1f} ms  "
                  f"(no HTTP)  share {convert / first:5.2f}")
            print(f"no-change poll:                    {no_change * 1000:8.1f} ms  "
                  f"({polls[-1].requests_made} requests)  ratio {no_change / baseline:5.2f}")
        finally:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()
