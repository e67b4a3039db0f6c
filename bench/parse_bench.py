"""Header parsing speed: connectors.mail._mail.parse_header_block against the stdlib parsers.

Run: python bench/parse_bench.py [-n 20000] [--corpus] [--repeat 3]

Generates N synthetic header blocks shaped like real mail (Received chains, a DKIM signature,
several recipients, RFC 2047 names, list headers), N IMAP-shaped blocks of each
bench/imap_bench.py shape (what Dovecot answers to the IMAP source's HEADER.FIELDS FETCH) and,
with --corpus, also the header blocks of ../shared/corpus/mail. Every parser reads the same
fields (From, To, Cc, Bcc, Date, Message-ID, the rule headers) and splits addresses, so the
numbers compare like with like; the ratio is to the stdlib parsers in the same run.

For the IMAP shapes it also times the whole per-message work of the IMAP prefetch child
(syncd/prefetch.py) on canned bytes: read_fetch_answer over 500-message answers, parsing, paging
and pickling each page as the child sends it, plus the parent's unpickling. Prints numbers
only: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import email.policy
import io
import pickle
import random
import sys
import time
from collections.abc import Callable, Sequence
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parsedate_tz
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.mail._imap_fetch import fetch_items, read_fetch_answer
from connectors.mail._mail import (
    FETCH_HEADERS,
    RULE_HEADERS,
    Unreadable,
    parse_header_block,
    parse_or_skip,
    read_header_bytes,
)
from connectors.mail._pages import PageBuilder
from syncd import prefetch
from syncd.model import Role

CORPUS_MAIL = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "mail"

NAMES = ["Alice Example", "Bob Builder", "=?utf-8?q?J=C3=BCrgen_M=C3=BCller?=", "Dr. Carol O'Neil"]
DOMAINS = ["example.org", "example.com", "mail.example.net", "gmail.com", "lists.example.org"]


def synthetic_blocks(count: int, seed: int = 1) -> list[bytes]:
    """Return ``count`` header blocks of about 1.5-3 KB, CRLF line endings."""
    rng = random.Random(seed)
    blocks = []
    for index in range(count):

        def address() -> str:
            local = rng.choice(["alice", "bob", "carol", "dave", "erin", "frank"])
            return f"{local}{rng.randrange(1000)}@{rng.choice(DOMAINS)}"

        def named() -> str:
            return (
                f'"{rng.choice(NAMES)}" <{address()}>'
                if rng.random() < 0.5
                else (f"{rng.choice(NAMES)} <{address()}>")
            )

        lines = []
        for hop in range(rng.randrange(2, 6)):
            lines.append(f"Received: from mx{hop}.{rng.choice(DOMAINS)} (mx{hop} [192.0.2.{hop}])")
            lines.append(f"\tby mail.example.com (Postfix) with ESMTPS id {index:X}{hop}")
            lines.append(f"\tfor <{address()}>; Fri, 1 Mar 2024 10:0{hop}:00 +0100")
        lines.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;")
        lines.append("\ts=selector; h=from:to:subject:date:message-id; bh=" + "A" * 44 + ";")
        lines.append("\tb=" + "B" * 76)
        lines.append("\t " + "C" * 76)
        lines.append(f"From: {named()}")
        lines.append("To: " + ", ".join(named() for _ in range(rng.randrange(1, 4))))
        if rng.random() < 0.4:
            lines.append("Cc: " + ",\r\n\t".join(named() for _ in range(rng.randrange(1, 5))))
        lines.append(f"Subject: Re: meeting {index}")
        day = rng.randrange(1, 28)
        lines.append(f"Date: Fri, {day} Mar 2024 {rng.randrange(24):02d}:13:00 +0100")
        lines.append(f"Message-ID: <{index}.{rng.randrange(10**9)}@{rng.choice(DOMAINS)}>")
        lines.append("MIME-Version: 1.0")
        lines.append('Content-Type: multipart/alternative; boundary="b1_abc"')
        if rng.random() < 0.4:
            lines.append("List-Id: Example list <list.example.org>")
            lines.append("List-Unsubscribe: <mailto:leave@example.org>")
            lines.append("Precedence: list")
        if rng.random() < 0.3:
            lines.append(f"In-Reply-To: <{index - 1}@example.org>")
        lines.append("X-Mailer: Benchmark 1.0")
        blocks.append(("\r\n".join(lines) + "\r\n\r\n").encode())
    return blocks


def imap_blocks(shape: str, count: int, seed: int = 7) -> list[bytes]:
    """Return ``count`` header blocks as Dovecot answers ``BODY.PEEK[HEADER.FIELDS (...)]`` for
    mail of imap_bench's ``shape``: only the fetched fields, in message order, CRLF, and the
    empty line that ends the block (RFC 3501 §6.4.5)."""
    from imap_bench import message

    rng = random.Random(seed)
    wanted = {name.encode() for name in FETCH_HEADERS}
    blocks = []
    for number in range(count):
        raw = message(rng, number, number % 7 == 0, shape)
        header = raw.split(b"\n\n", 1)[0]
        kept = [line for line in header.split(b"\n")
                if line.split(b":", 1)[0].strip().lower() in wanted]
        blocks.append(b"".join(line + b"\r\n" for line in kept) + b"\r\n")
    return blocks


def corpus_blocks() -> list[bytes]:
    """Return the header blocks of every corpus mail file (empty if there is no corpus)."""
    if not CORPUS_MAIL.is_dir():
        return []
    blocks = []
    for path in sorted(CORPUS_MAIL.rglob("*")):
        if path.is_file() and "_upstream" not in path.parts:
            blocks.append(read_header_bytes(path))
    return blocks


def ours(raw: bytes) -> object:
    try:
        return parse_header_block(raw, source_id="bench", folder_role=Role.INBOX, received=None)
    except Unreadable:
        return None


def stdlib(policy: email.policy.Policy) -> Callable[[bytes], object]:
    parser = BytesHeaderParser(policy=policy)

    def parse(raw: bytes) -> object:
        try:
            message = parser.parsebytes(raw)
            # Same work as ours: the address fields split into (name, address) pairs, the
            # date parsed, the id and rule headers read.
            fields = [
                str(value)
                for name in ("from", "to", "cc", "bcc")
                for value in message.get_all(name, [])
            ]
            result = getaddresses(fields)
            date = message.get("date")
            if date is not None:
                parsedate_tz(str(date))
            for name in ("message-id", *RULE_HEADERS):
                message.get(name)
            return result
        except Exception:  # policy.default can raise on malformed headers (cpython#151857)
            return None

    return parse


def measure(function: Callable[[bytes], object], blocks: Sequence[bytes], repeat: int) -> float:
    """Return the best blocks per CPU second over ``repeat`` runs (CPU time: on a machine
    shared with other work, wall time measures the neighbours)."""
    best = 0.0
    for _ in range(repeat):
        started = time.process_time()
        for raw in blocks:
            function(raw)
        elapsed = time.process_time() - started
        best = max(best, len(blocks) / elapsed)
    return best


def report(label: str, blocks: Sequence[bytes], repeat: int) -> None:
    if not blocks:
        return
    size = sum(map(len, blocks)) / len(blocks)
    print(f"{label}: {len(blocks)} header blocks, {size:.0f} bytes on average")
    results = {
        "parse_header_block": measure(ours, blocks, repeat),
        "BytesHeaderParser(policy=compat32)": measure(stdlib(email.policy.compat32), blocks, 1),
        "BytesHeaderParser(policy=default)": measure(stdlib(email.policy.default), blocks, 1),
    }
    base = results["parse_header_block"]
    for name, rate in results.items():
        print(f"  {name:38s} {rate:10,.0f} blocks/s {1e6 / rate:7.1f} us/block (CPU)"
              f"   ours/this = {base / rate:5.1f}x")


def fetch_answers(blocks: Sequence[bytes], size: int = 500) -> list[bytes]:
    """Canned ``UID FETCH`` answers of ``size`` messages each, in Dovecot's spelling."""
    items = fetch_items(FETCH_HEADERS)[1:-1].replace(".PEEK", "").encode()
    answers = []
    for start in range(0, len(blocks), size):
        answer = bytearray()
        for offset, block in enumerate(blocks[start : start + size]):
            uid = start + offset + 1
            items_line = items.replace(b"UID INTERNALDATE", b'UID %d INTERNALDATE "%02d-Jan-2024 '
                                       b'10:%02d:%02d +0100"' % (uid, 1 + uid % 28, uid % 60,
                                                                  uid % 59))
            answer += b"* %d FETCH (%s {%d}\r\n%s)\r\n" % (offset + 1, items_line, len(block),
                                                              block)
        answer += b"A1 OK Fetch completed.\r\n"
        answers.append(bytes(answer))
    return answers


def child_work(answers: Sequence[bytes], repeat: int) -> tuple[float, float, int]:
    """Return the best CPU seconds of the prefetch child's work over ``answers`` and of the
    parent's unpickling, and the message count."""
    best_child = best_parent = float("inf")
    count = 0
    for _ in range(repeat):
        child = parent = 0.0
        count = 0
        for answer in answers:
            started = time.process_time()
            stream = io.BytesIO(answer)
            _, _, fetched = read_fetch_answer(stream.readline, stream.read, b"A1")
            builder = PageBuilder()
            for uid, item in fetched.items():
                builder.add(parse_or_skip(item.header, source_id=f"1:{uid}",
                                          folder_role=Role.INBOX, received=item.received))
            data = io.BytesIO()
            pickler = pickle.Pickler(data, protocol=pickle.HIGHEST_PROTOCOL)
            pickler.dispatch_table = prefetch._DISPATCH  # as the child's channel pickles
            pickler.dump(("page", builder.page(None)))
            unpickling = time.process_time()
            pickle.loads(data.getbuffer())
            child += unpickling - started
            parent += time.process_time() - unpickling
            count += len(fetched)
        best_child, best_parent = min(best_child, child), min(best_parent, parent)
    return best_child, best_parent, count


def report_child(label: str, blocks: Sequence[bytes], repeat: int) -> None:
    child, parent, count = child_work(fetch_answers(blocks), repeat)
    print(f"  prefetch child (read FETCH, parse, page, pickle): {1e6 * child / count:6.1f} us/msg"
          f" CPU; parent unpickle {1e6 * parent / count:5.1f} us/msg ({label})")


def main(argv: Sequence[str] | None = None) -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("-n", type=int, default=20_000, help="synthetic blocks (20000)")
    arguments.add_argument("--corpus", action="store_true", help="also time the corpus")
    arguments.add_argument("--repeat", type=int, default=3, help="runs of ours; best counts")
    options = arguments.parse_args(argv)
    print(f"Python {sys.version.split()[0]}")
    report("synthetic", synthetic_blocks(options.n), options.repeat)
    for shape in ("folders", "big-inbox"):
        blocks = imap_blocks(shape, options.n)
        report(f"IMAP answers, imap_bench shape {shape}", blocks, options.repeat)
        report_child(shape, blocks, options.repeat)
    if options.corpus:
        report("corpus", corpus_blocks(), options.repeat)


if __name__ == "__main__":
    main()
