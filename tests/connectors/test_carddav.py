"""The CardDAV source against real servers (Radicale with auth, Xandikos): cards, changes,
removals, broken vCards, a refused password, the ETag fallback."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from servers.radicale import radicale, xandikos  # noqa: F401 - fixtures

from connectors.contacts.carddav import CarddavConnector
from syncd.engine import Engine
from syncd.errors import AuthError, SourceEmpty
from syncd.model import Address, Birthday, Card
from syncd.rules import Rules
from syncd.store import Store


def vcard(uid: str, name: str, *emails: str, categories: str = "", bday: str = "",
          version: str = "4.0") -> str:
    lines = ["BEGIN:VCARD", f"VERSION:{version}", f"UID:{uid}", f"FN:{name}"]
    if version == "3.0":
        lines.append(f"N:{name.rpartition(' ')[2]};{name.partition(' ')[0]};;;")
    lines += [f"EMAIL:{email}" for email in emails]
    if categories:
        lines.append(f"CATEGORIES:{categories}")
    if bday:
        lines.append(f"BDAY:{bday}")
    return "\r\n".join([*lines, "END:VCARD", ""])


@dataclass
class Pass:
    """Everything one pull yielded, pages joined."""

    cards: dict[str, Card] = field(default_factory=dict)
    removals: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    cursor: str | None = None


def pull(connector: CarddavConnector, cursor: str | None) -> Pass:
    result = Pass()
    for page in connector.pull(cursor, set()):
        for record in page.records:
            assert isinstance(record, Card)
            result.cards[record.source_id.rpartition("/")[2]] = record
        result.removals.extend(href.rpartition("/")[2] for href in page.removals)
        result.skipped.update((s.source_id.rpartition("/")[2], s.reason) for s in page.skipped)
        result.cursor = page.cursor or result.cursor
    assert result.cursor is not None, "the last page carries the cursor"
    return result


def setup(server, **options):
    user = server.new_user()
    url = server.make_address_book(user)
    slug = url.rstrip("/").rpartition("/")[2]
    connector = CarddavConnector("book", server.options(user, address_books=[slug], **options),
                                 ZoneInfo("UTC"))
    return user, url, connector


@pytest.fixture
def server(request):
    return request.getfixturevalue("radicale")


@pytest.mark.parametrize("server_name", ["radicale", "xandikos"])
def test_first_sync_reads_names_addresses_categories_and_birthdays(request, server_name):
    server = request.getfixturevalue(server_name)
    user, url, connector = setup(server)
    server.put_card(url, user, "ann.vcf", vcard("ann", "Ann Lee", "Ann@Example.com",
                                                "ann.lee@work.example", categories="family,Close",
                                                bday="19850412"))
    server.put_card(url, user, "bob.vcf", vcard("bob", "Bob Roe", "bob@example.com",
                                                bday="--1231", version="3.0"))
    first = pull(connector, None)
    ann, bob = first.cards["ann.vcf"], first.cards["bob.vcf"]
    assert ann.name == "Ann Lee" and ann.uid == "ann"
    assert ann.addresses == (Address("ann@example.com", "Ann Lee"),
                             Address("ann.lee@work.example", "Ann Lee"))
    assert ann.categories == ("family", "Close")
    assert ann.birthday == Birthday(4, 12, 1985)
    assert bob.birthday == Birthday(12, 31, None)
    assert first.removals == [] and first.skipped == {}


@pytest.mark.parametrize("server_name", ["radicale", "xandikos"])
def test_incremental_sync_reads_only_changes_and_reports_deletions(request, server_name):
    server = request.getfixturevalue(server_name)
    user, url, connector = setup(server)
    server.put_card(url, user, "a.vcf", vcard("a", "Ann", "ann@example.com"))
    server.put_card(url, user, "b.vcf", vcard("b", "Bob", "bob@example.com"))
    first = pull(connector, None)
    server.put_card(url, user, "a.vcf", vcard("a", "Ann", "ann@example.com", categories="friends"))
    server.put_card(url, user, "c.vcf", vcard("c", "Cy", "cy@example.com"))
    server.delete(url, user, "b.vcf")
    second = pull(connector, first.cursor)
    assert set(second.cards) == {"a.vcf", "c.vcf"}
    assert second.cards["a.vcf"].categories == ("friends",)
    assert second.removals == ["b.vcf"]
    before = connector.requests_made
    third = pull(connector, second.cursor)
    assert third.cards == {} and third.removals == []
    assert connector.requests_made - before == 1, "a poll with no change is one request"


def test_a_broken_card_is_skipped_with_a_reason_and_the_rest_syncs(xandikos):  # noqa: F811
    # Radicale refuses (and hides) vCards it cannot read; Xandikos stores a resource with two
    # vCards, which RFC 6352 §5.1 forbids (one vCard per address object resource).
    user, url, connector = setup(xandikos)
    xandikos.put_card(url, user, "good.vcf", vcard("good", "Good", "good@example.com"))
    xandikos.put_card(url, user, "bad.vcf", vcard("b1", "One", "one@example.com")
                      + vcard("b2", "Two", "two@example.com"))
    result = pull(connector, None)
    assert set(result.cards) == {"good.vcf"}
    assert "holds 2 vCards, not one" in result.skipped["bad.vcf"]
    xandikos.put_card(url, user, "bad.vcf", vcard("b1", "One", "one@example.com"))
    fixed = pull(connector, result.cursor)
    assert set(fixed.cards) == {"bad.vcf"} and fixed.skipped == {}


def test_a_deleted_address_book_member_set_is_not_taken_for_a_mass_deletion(server):
    user, url, connector = setup(server)
    server.put_card(url, user, "a.vcf", vcard("a", "Ann", "ann@example.com"))
    first = pull(connector, None)
    server.delete(url, user, "a.vcf")
    with pytest.raises(SourceEmpty, match="syncd sync book --full"):
        pull(connector, first.cursor)


def test_a_refused_password_pauses_the_source_and_names_the_fix(server):
    user, _url, _connector = setup(server)
    connector = CarddavConnector("book", {**server.options(user),
                                          "password_command": "echo not-the-password"},
                                 ZoneInfo("UTC"))
    store = Store.in_memory()
    report = Engine(store, Rules(), lambda: datetime.now(UTC)).sync("book", connector)
    assert report.error_kind == "auth"
    assert "syncd auth book" in (report.error or "")
    assert store.is_paused("book")
    with pytest.raises(AuthError, match="syncd auth book"):
        connector.check_password("wrong")
    connector.check_password(server.password)


def test_an_invalid_sync_token_falls_back_to_an_etag_listing(server):
    user, url, connector = setup(server)
    server.put_card(url, user, "a.vcf", vcard("a", "Ann", "ann@example.com"))
    server.put_card(url, user, "b.vcf", vcard("b", "Bob", "bob@example.com"))
    first = pull(connector, None)
    state = json.loads(first.cursor)
    for book in state["books"].values():
        book["token"] = "http://radicale.org/ns/sync/corrupt-token"
    server.put_card(url, user, "c.vcf", vcard("c", "Cy", "cy@example.com"))
    server.delete(url, user, "b.vcf")
    second = pull(connector, json.dumps(state))
    assert set(second.cards) == {"c.vcf"}, "only the new card is read after the listing"
    assert second.removals == ["b.vcf"]
    assert all(book["token"] is None for book in json.loads(second.cursor)["books"].values())
    third = pull(connector, second.cursor)
    assert third.cards == {} and third.removals == []
    assert all(book["token"] for book in json.loads(third.cursor)["books"].values())


def test_a_server_without_sync_collection_is_listed_by_etags(server):
    user, url, connector = setup(server)
    server.put_card(url, user, "a.vcf", vcard("a", "Ann", "ann@example.com"))
    first = pull(connector, None)
    state = json.loads(first.cursor)
    for book in state["books"].values():
        book["nosync"] = True  # as after a server refused even an empty-token sync
    server.put_card(url, user, "a.vcf", vcard("a", "Ann B", "ann@example.com"))
    before = connector.requests_made
    second = pull(connector, json.dumps(state))
    assert second.cards["a.vcf"].name == "Ann B"
    assert connector.requests_made - before == 2, "one PROPFIND listing, one multiget"


def test_address_books_select_by_name_and_default_to_all(server):
    user = server.new_user()
    work = server.make_address_book(user, "work")
    home = server.make_address_book(user, "home")
    server.put_card(work, user, "w.vcf", vcard("w", "Wes", "wes@example.com"))
    server.put_card(home, user, "h.vcf", vcard("h", "Hal", "hal@example.com"))
    everything = CarddavConnector("book", server.options(user), ZoneInfo("UTC"))
    assert set(pull(everything, None).cards) == {"w.vcf", "h.vcf"}
    only_work = CarddavConnector("book", server.options(user, address_books=["WO*"]),
                                 ZoneInfo("UTC"))
    assert set(pull(only_work, None).cards) == {"w.vcf"}
