"""Record the mail parsers' answers for a fixed set of inputs, or compare them to a recording.

Run: ``python bench/parse_equivalence.py record FILE`` on the old code, then
``python bench/parse_equivalence.py compare FILE`` on the new: it prints how many answers
differ (and the first few) and exits 1 if any do. For rewrites of the hot parsing path that
must not change a single result.

The inputs: every header block of ../shared/corpus/mail, parse_bench's synthetic blocks, the
IMAP-shaped blocks (only the fetched fields, CRLF) of both imap_bench shapes, and seeded
byte-level mutations of all of those (stray CR/LF, folds, colons, quotes, brackets, non-UTF-8
bytes, cuts). Each block is parsed with several delivery times and with and without Gmail
labels. Answers are compared field by field, including ``Address.written`` (which Address
equality ignores) and the order of ``headers``. The IMAP FETCH reader and
``parse_internaldate`` are checked on canned answers built from the same blocks.
"""

from __future__ import annotations

import pickle
import random
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from parse_bench import corpus_blocks, imap_blocks, synthetic_blocks

from connectors.mail._imap_fetch import parse_internaldate, read_fetch_answer
from connectors.mail._mail import parse_addresses, parse_date, parse_or_skip
from syncd.addresses import normalize_address
from syncd.model import Address, Message, Role, Skip

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RECEIVED = (None, datetime(2024, 3, 1, 12, tzinfo=UTC), datetime(1980, 1, 1, tzinfo=UTC),
            datetime(2030, 1, 1, tzinfo=UTC), datetime(2000, 2, 29, 23, 59, 59, tzinfo=UTC))
_INSERTS = [b"\r", b"\n", b"\r\n", b"\r\n ", b"\n\t", b":", b'"', b"<", b">", b",", b";",
            b"(", b")", b"\\", b"@", b" ", b"\xff", b"\xc3", b"=?utf-8?q?x?=", b"\x00",
            b"\x1c", b"\xc2\x85", b"\xc2\xa0", b" at ", b"\r\r", b"\n\n", b"\t"]


def mutations(blocks: list[bytes], count: int, seed: int = 3) -> list[bytes]:
    """Return ``count`` seeded byte-level mutations of ``blocks``."""
    rng = random.Random(seed)
    result = []
    for _ in range(count):
        data = bytearray(rng.choice(blocks))
        for _ in range(rng.randrange(1, 4)):
            where = rng.randrange(len(data) + 1)
            kind = rng.random()
            if kind < 0.6:
                data[where:where] = rng.choice(_INSERTS)
            elif kind < 0.8:
                del data[where : where + rng.randrange(1, 8)]
            else:
                del data[where:]
        result.append(bytes(data))
    return result


def all_blocks() -> list[bytes]:
    base = (corpus_blocks() + synthetic_blocks(3000) + imap_blocks("folders", 3000)
            + imap_blocks("big-inbox", 3000))
    crlf = [block.replace(b"\n", b"\r\n") for block in corpus_blocks()[:500]]
    return base + crlf + mutations(base, 20000)


def address_key(address: Address | None) -> object:
    return None if address is None else (address.email, address.name, address.written)


def answer_key(answer: Message | Skip | BaseException) -> object:
    if isinstance(answer, BaseException):
        return ("raised", type(answer).__name__, str(answer))
    if isinstance(answer, Skip):
        return ("skip", answer.source_id, answer.reason)
    return ("message", answer.source_id, answer.message_id, answer.date, answer.received,
            address_key(answer.sender), tuple(map(address_key, answer.to)),
            tuple(map(address_key, answer.cc)), tuple(map(address_key, answer.bcc)),
            answer.folder_role, tuple(answer.headers.items()), answer.fingerprint)


def parsed(blocks: list[bytes]) -> Iterator[object]:
    for index, block in enumerate(blocks):
        for received in RECEIVED[: 5 if index % 7 == 0 else 2]:
            for labels in (False, True) if index % 5 == 0 else (False,):
                try:
                    answer: Message | Skip | BaseException = parse_or_skip(
                        block, source_id=f"s{index}", folder_role=Role.INBOX,
                        received=received, gmail_labels=labels, now=NOW)
                except BaseException as error:
                    answer = error
                yield answer_key(answer)


def values(blocks: list[bytes]) -> list[str]:
    """Header values of the blocks, as text: for the address and date readers alone."""
    found = []
    for block in blocks:
        for line in block.split(b"\n"):
            _, colon, value = line.partition(b":")
            if colon:
                found.append(value.decode("utf-8", "replace").strip())
    return found


def fetch_answers(blocks: list[bytes]) -> list[object]:
    """read_fetch_answer over canned answers of 50 messages each, every tenth odd."""
    rng = random.Random(5)
    results: list[object] = []
    dates = [b"17-Jul-1996 02:44:25 -0700", b" 1-Jan-2024 00:00:00 +0000",
             b"31-Dec-1999 23:59:59 +1400", b"29-Feb-2023 10:00:00 +0100",
             b"1-Jan-2024 10:00:00 +0100", b"x", b"", b"01-JAN-2024 10:00:00 -0030",
             b"10-Foo-2024 10:00:00 +0100", b"1-Mar-2024 25:00:00 +0000"]
    for start in range(0, min(len(blocks), 20000), 50):
        stream = bytearray()
        for offset, block in enumerate(blocks[start : start + 50]):
            uid = start + offset + 1
            date = rng.choice(dates) if rng.random() < 0.3 else dates[0]
            if rng.random() < 0.05:
                stream += b"* %d FETCH (FLAGS (\\Seen) UID %d)\r\n" % (offset + 1, uid)
            if rng.random() < 0.05:
                stream += b"* 3 EXISTS\r\n"
            labels = b' X-GM-LABELS ("\\\\Sent" Family)' if rng.random() < 0.1 else b""
            stream += (b'* %d FETCH (UID %d INTERNALDATE "%s"%s BODY[HEADER.FIELDS (FROM TO)] '
                       b"{%d}\r\n" % (offset + 1, uid, date, labels, len(block)))
            tail = rng.random()
            if tail < 0.05:
                stream += block + b" FLAGS (\\Seen))\r\n"
            elif tail < 0.08:
                stream += block + b' BODY[HEADER.FIELDS (SUBJECT)] {3}\r\nabc)\r\n'
            elif tail < 0.1:
                stream += block + b" X-GM-LABELS (\\Inbox))\r\n"
            else:
                stream += block + b")\r\n"
        stream += b"A1 OK done\r\n"
        if rng.random() < 0.2:  # the connection ends anywhere
            del stream[rng.randrange(len(stream)):]
        position = 0

        def readline(limit: int, data: bytes = bytes(stream)) -> bytes:
            nonlocal position
            end = data.find(b"\n", position, position + limit)
            end = position + limit if end < 0 else end + 1
            line = data[position:end]
            position = end
            return line

        def read(size: int, data: bytes = bytes(stream)) -> bytes:
            nonlocal position
            chunk = data[position : position + size]
            position += size
            return chunk

        try:
            status, text, fetched = read_fetch_answer(readline, read, b"A1")
            results.append((status, text, sorted(
                (uid, item.uid, item.received, item.header, item.labels)
                for uid, item in fetched.items())))
        except Exception as error:
            results.append(("raised", type(error).__name__, str(error)))
    for date in dates:
        results.append(parse_internaldate(date.decode()))
    return results


def date_edges() -> list[str]:
    """Date values at the edges of every check: month lengths, leap days, hours, seconds 60+,
    zones, the 1990 floor and the two-days-after-now ceiling."""
    rng = random.Random(11)
    texts = []
    for _ in range(30000):
        year = rng.choice([1900, 1970, 1989, 1990, 2000, 2023, 2024, 2025, 2026, 2099, 2100])
        month = rng.choice(["Jan", "Feb", "feb", "Mar", "Apr", "Dec", "Foo"])
        day = rng.choice([0, 1, 28, 29, 30, 31, 32, 99])
        hour, minute = rng.choice([0, 23, 24, 99]), rng.choice([0, 59, 60])
        second = rng.choice(["", ":00", ":59", ":60", ":99"])
        zone = rng.choice(["+0000", "-0000", "+0100", "-1200", "+1400", "+9959", "-9999"])
        weekday = rng.choice(["", "Mon, ", "Xyz,"])
        texts.append(f"{weekday}{day} {month} {year} {hour:02d}:{minute:02d}{second} {zone}")
    for hours in range(-60, 61):  # around NOW + 2 days, minute by minute near the edge
        for minute in (0, 59):
            moment = datetime(2026, 1, 3, tzinfo=UTC).timestamp() + hours * 3600 + minute * 60
            texts.append(datetime.fromtimestamp(moment, UTC).strftime("%d %b %Y %H:%M:%S +0000"))
    return texts


def internaldate_edges() -> list[str]:
    rng = random.Random(13)
    texts = []
    for _ in range(20000):
        year = rng.choice(["0001", "1899", "1900", "1969", "1970", "2024", "2099", "2100", "9999"])
        month = rng.choice(["Jan", "Feb", "DEC", "Foo"])
        day = rng.choice([" 0", " 1", "01", "28", "29", "31", "32"])
        clock = rng.choice(["00:00:00", "23:59:59", "24:00:00", "10:60:00", "10:00:60"])
        zone = rng.choice(["+0000", "-0000", "+0100", "-1200", "+9959", "-9999"])
        texts.append(f"{day}-{month}-{year} {clock} {zone}")
    return texts


def address_edges() -> list[str]:
    """Address values near the plain shapes: odd names, locals, domains and spacing."""
    rng = random.Random(17)
    names = ["", "Ann", "Ann Lee", "Ann  Lee", " Ann", "Ann ", "Dr. O'Neil", "a-b_c", "Ann\tLee",
             '"Lee, Ann"', "=?utf-8?q?J=C3=BCrgen?=", "Ann@home", "J\u00fcrgen", ".", "Ann (x)",
             "Ann=B", "ANN", "1 2 3"]
    locals_ = ["ann", "Ann.Lee", "a+tag", ".", "a..b", "+x", "a-b_c", "\"quoted\"", "a b", "ä"]
    domains = ["example.org", "Example.ORG", "gmail.com", "GoogleMail.com", "localhost",
               "example.org.", "a-b.c-d.e", "ex_ample.org", "例え.jp", "-x.org", "x..org"]
    texts = []
    for _ in range(30000):
        address = f"{rng.choice(locals_)}@{rng.choice(domains)}"
        name = rng.choice(names)
        form = rng.randrange(6)
        if form == 0:
            text = address
        elif form == 1:
            text = f"<{address}>"
        elif form == 2:
            text = f"{name} <{address}>"
        elif form == 3:
            text = f"{name}<{address}>"
        elif form == 4:
            text = f"{name} <{address}>, {rng.choice(names)} <{address}>"
        else:
            space, close = rng.choice([" ", "  ", ""]), rng.choice([">", "", "> ", ">>"])
            text = f"{name}{space}<{address}{close}"
        if rng.random() < 0.1:
            text = rng.choice([" ", "\t", ""]) + text + rng.choice([" ", ""])
        texts.append(text)
    return texts


def guarded(function: Callable[[], object]) -> object:
    try:
        return function()
    except Exception as error:
        return ("raised", type(error).__name__)


def record() -> dict[str, list[object]]:
    blocks = all_blocks()
    texts = values(blocks[:6000])
    return {
        "blocks": list(parsed(blocks)),
        "addresses": [tuple(map(address_key, parse_addresses(value))) for value in texts],
        "normalized": [normalize_address(value) for value in texts]
        + [normalize_address(value, fold_local_part=False) for value in texts[:2000]],
        "dates": [parse_date(value, received=received, now=NOW)
                  for value in texts for received in (None, RECEIVED[1])],
        "fetch": fetch_answers(blocks),
        "address_edges": [tuple(map(address_key, parse_addresses(value)))
                          for value in address_edges()],
        "date_edges": [parse_date(value, received=received, now=NOW)
                       for value in date_edges() for received in RECEIVED],
        "internaldate_edges": [guarded(lambda value=value: parse_internaldate(value))
                               for value in internaldate_edges()],
    }


def main() -> int:
    mode, path = sys.argv[1], Path(sys.argv[2])
    answers = record()
    if mode == "record":
        path.write_bytes(pickle.dumps(answers))
        print({name: len(items) for name, items in answers.items()})
        return 0
    expected = pickle.loads(path.read_bytes())
    failed = 0
    for name, items in expected.items():
        got = answers[name]
        different = [i for i, (a, b) in enumerate(zip(items, got, strict=True)) if a != b]
        print(f"{name}: {len(items)} answers, {len(different)} differ")
        for index in different[:3]:
            print(f"  #{index}\n    old {items[index]!r}\n    new {got[index]!r}")
        failed += len(different)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
