"""Rules for the Gmail source: the real google-api-python-client against the fake server."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from google_helpers import google_server, options, quick  # noqa: F401 - the "google" fixture

from connectors.google.gmail import GmailConnector, estimate
from syncd.engine import Engine
from syncd.errors import AuthError, CursorExpired, SourceError
from syncd.model import Role
from syncd.rules import Rules
from syncd.store import Store
from syncd.testing import database_content
from syncd.token_store import TokenStore

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ZONE = __import__("zoneinfo").ZoneInfo("UTC")


def gmail(running, tmp_path, **extra):
    return quick(GmailConnector("gmail", options(running, tmp_path / "state", **extra), ZONE))


def pull_all(connector, cursor=None, known=()):
    pages = list(connector.pull(cursor, set(known)))
    records = [record for page in pages for record in page.records]
    return pages, records, pages[-1].cursor


def engine_with_store(path=None):
    store = Store.open(path) if path else Store.in_memory()
    store.set_configured_addresses(["me@gmail.com"])
    return Engine(store, Rules(), lambda: NOW), store


# --- full sync ----------------------------------------------------------------------------------


def test_full_sync_reads_each_wanted_message_once_and_never_fetches_excluded_labels(
        google, tmp_path):
    fake = google.fake
    kept = [fake.add_message(sender="ann@example.org", to="me@gmail.com"),
            fake.add_message(sender="me@gmail.com", to="bob@example.org", labels=("SENT",)),
            fake.add_message(sender="cat@example.org", to="me@gmail.com", labels=())]
    for labels in (("SPAM",), ("TRASH",), ("DRAFT",), ("INBOX", "CATEGORY_PROMOTIONS"),
                   ("INBOX", "CATEGORY_SOCIAL"), ("CATEGORY_UPDATES",), ("CATEGORY_FORUMS",)):
        fake.add_message(sender="shop@example.org", to="me@gmail.com", labels=labels)
    pages, records, cursor = pull_all(gmail(google, tmp_path))
    assert sorted(record.source_id for record in records) == sorted(kept)
    assert fake.calls["messages.get"] == 3
    roles = {record.sender.email: record.folder_role for record in records}
    assert roles == {"ann@example.org": Role.INBOX, "me@gmail.com": Role.SENT,
                     "cat@example.org": Role.ARCHIVE}
    assert pages[-1].my_addresses == frozenset({"me@gmail.com"})
    assert "next" not in json.loads(cursor)


def test_categories_are_read_when_exclude_labels_is_empty(google, tmp_path):
    fake = google.fake
    fake.add_message(sender="shop@example.org", to="me@gmail.com",
                     labels=("INBOX", "CATEGORY_PROMOTIONS"))
    fake.add_message(sender="x@example.org", to="me@gmail.com", labels=("DRAFT",))
    _, records, _ = pull_all(gmail(google, tmp_path, exclude_labels=[]))
    assert [record.sender.email for record in records] == ["shop@example.org"]


def test_user_labels_are_excluded_by_name_and_an_unknown_name_is_a_warning(
        google, tmp_path, caplog):
    fake = google.fake
    fake.labels["Label_7"] = "Newsletters"
    kept = fake.add_message(sender="ann@example.org", to="me@gmail.com")
    fake.add_message(sender="news@example.org", to="me@gmail.com", labels=("Label_7",))
    connector = gmail(google, tmp_path, exclude_labels=["newsletters", "Nonexistent"])
    _, records, _ = pull_all(connector)
    assert [record.source_id for record in records] == [kept]
    assert "exclude_labels names 'Nonexistent', but the account has no such label" in caplog.text


def test_the_history_id_is_recorded_before_the_listing(google, tmp_path):
    google.fake.add_message(sender="ann@example.org", to="me@gmail.com")
    first = next(iter(gmail(google, tmp_path).pull(None, set())))
    assert first.records == ()
    assert json.loads(first.cursor)["history"] == str(google.fake.history_id)
    assert google.fake.calls["messages.list"] == 0


def test_metadata_is_asked_for_with_only_the_headers_the_rules_read(google, tmp_path):
    fake = google.fake
    fake.add_message(sender="Ann <ann@example.org>", to="me@gmail.com", message_id="<a@x>",
                     extra=(("List-Id", "<list.example.org>"), ("X-Secret", "body-ish")))
    _, [record], _ = pull_all(gmail(google, tmp_path))
    assert record.message_id == "a@x"
    assert record.sender.name == "Ann"
    assert record.headers["list-id"] == "<list.example.org>"
    assert "x-secret" not in record.headers


def test_the_date_header_wins_and_internal_date_is_the_fallback_like_imap(google, tmp_path):
    fake = google.fake
    received = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
    good = fake.add_message(sender="a@example.org", to="me@gmail.com", internal_date=received,
                            date="Sun, 09 Mar 2025 08:00:00 +0000")
    missing = fake.add_message(sender="b@example.org", to="me@gmail.com",
                               internal_date=received, date="")
    future = fake.add_message(sender="c@example.org", to="me@gmail.com",
                              internal_date=received, date="Sat, 15 Mar 2025 08:00:00 +0000")
    garbage = fake.add_message(sender="d@example.org", to="me@gmail.com",
                               internal_date=received, date="the day after tomorrow")
    _, records, _ = pull_all(gmail(google, tmp_path))
    by_id = {record.source_id: record for record in records}
    assert by_id[good].date == datetime(2025, 3, 9, 8, 0, tzinfo=UTC)
    for identifier in (missing, future, garbage):
        assert by_id[identifier].date is None
        assert by_id[identifier].received == received


# --- incremental sync and history expiry --------------------------------------------------------


def test_incremental_sync_reads_only_what_history_adds(google, tmp_path):
    fake = google.fake
    fake.add_message(sender="ann@example.org", to="me@gmail.com")
    connector = gmail(google, tmp_path)
    _, records, cursor = pull_all(connector)
    new = fake.add_message(sender="bob@example.org", to="me@gmail.com")
    fake.add_message(sender="x@example.org", to="me@gmail.com", labels=("SPAM",))
    before = fake.calls["messages.get"]
    _, records, cursor = pull_all(connector, cursor, known=[r.source_id for r in records])
    assert [record.source_id for record in records] == [new]
    assert fake.calls["messages.get"] - before == 2  # the new message and the spam one
    assert json.loads(cursor)["history"] == str(fake.history_id)
    assert fake.calls["history.list"] == 1
    _, records, again = pull_all(connector, cursor)
    assert records == [] and again == cursor


def test_a_history_404_is_a_full_resync_without_double_counting(google, tmp_path):
    fake = google.fake
    for number in range(30):
        fake.add_message(sender=f"p{number}@example.org", to="me@gmail.com")
    connector = gmail(google, tmp_path)
    engine, store = engine_with_store()
    engine.sync("gmail", connector)
    once = database_content(store)
    fake.forget_history()
    with pytest.raises(CursorExpired):
        list(connector.pull(store.cursor("gmail"), set()))
    late = fake.add_message(sender="late@example.org", to="me@gmail.com")
    before = fake.calls["messages.get"]
    report = engine.sync("gmail", connector)
    assert report.error is None and report.full
    assert fake.calls["messages.get"] - before == 1  # only the new one; the rest is known
    after = database_content(store)
    assert len(after["observations"]) == len(once["observations"]) + 1
    assert late in {source_id for _, source_id, _ in after["observations"]}
    assert all(count == 1 for *_, count, _ in after["stats"])


# --- faults -------------------------------------------------------------------------------------


def test_rate_limits_and_server_errors_inside_a_batch_are_retried_per_sub_request(
        google, tmp_path):
    fake = google.fake
    ids = [fake.add_message(sender=f"p{n}@example.org", to="me@gmail.com") for n in range(120)]
    fake.inject("messages.get", 429, 403, 500, 503)
    _, records, _ = pull_all(gmail(google, tmp_path))
    assert sorted(record.source_id for record in records) == sorted(ids)
    assert fake.calls["messages.get"] == 120 + 4
    assert fake.calls["batch"] == 3 + 1  # 50 + 50 + 20, then one batch of the four failed


def test_a_failing_batch_and_errors_mid_pagination_are_retried(google, tmp_path):
    fake = google.fake
    ids = [fake.add_message(sender=f"p{n}@example.org", to="me@gmail.com") for n in range(1100)]
    fake.inject("batch", 503)
    fake.inject("messages.list.page", 500, 429)
    _, records, _ = pull_all(gmail(google, tmp_path))
    assert sorted(record.source_id for record in records) == sorted(ids)
    assert fake.calls["messages.get"] == 1100
    assert fake.calls["messages.list.page"] == 2 + 2


def test_a_partial_batch_never_advances_the_cursor(google, tmp_path):
    fake = google.fake
    ids = [fake.add_message(sender=f"p{number % 50}@example.org", to="me@gmail.com")
           for number in range(700)]
    engine, store = engine_with_store()
    # The first page (the newest 500) is read; in the second, one message keeps failing.
    fake.inject(f"messages.get {ids[100]}", *([500] * 6))
    report = engine.sync("gmail", gmail(google, tmp_path))
    assert report.error and "after 6 attempts" in report.error
    stored = database_content(store)
    assert len(stored["observations"]) == 500
    assert "next" in json.loads(store.cursor("gmail"))
    report = engine.sync("gmail", gmail(google, tmp_path))
    assert report.error is None
    final = database_content(store)
    assert len(final["observations"]) == 700
    assert sum(count for *_, count, _ in final["stats"]) == 700
    assert "next" not in json.loads(store.cursor("gmail"))


def test_a_revoked_refresh_token_pauses_the_source_without_retrying(google, tmp_path):
    google.fake.add_message(sender="ann@example.org", to="me@gmail.com")
    connector = gmail(google, tmp_path)
    google.fake.revoke()
    with pytest.raises(AuthError, match="run: syncd auth gmail"):
        list(connector.pull(None, set()))
    assert google.fake.calls["token"] == 1
    engine, store = engine_with_store()
    report = engine.sync("gmail", GmailConnector("gmail", connector.options, ZONE))
    assert report.error_kind == "auth" and store.is_paused("gmail")
    assert "run: syncd auth gmail" in report.error
    assert google.fake.calls["token"] == 2


def test_no_stored_token_and_a_token_without_the_scope_both_ask_for_syncd_auth(google, tmp_path):
    connector = gmail(google, tmp_path, account="other@gmail.com")
    TokenStore(tmp_path / "state").delete("google-other@gmail.com")
    with pytest.raises(AuthError, match="no Google authorization yet; run: syncd auth gmail"):
        list(connector.pull(None, set()))
    calendar_only = quick(GmailConnector("gmail", options(
        google, tmp_path / "s2", "google_calendar"), ZONE))
    with pytest.raises(AuthError, match=r"does not allow .*gmail\.metadata"):
        list(calendar_only.pull(None, set()))


def test_tokens_never_reach_logs_errors_or_the_database(google, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    fake = google.fake
    for number in range(60):
        fake.add_message(sender=f"p{number}@example.org", to="me@gmail.com")
    fake.inject("messages.get", 429)
    engine, store = engine_with_store(tmp_path / "db")
    connector = gmail(google, tmp_path)
    assert engine.sync("gmail", connector).error is None
    revoked = GmailConnector("gmail", connector.options, ZONE)
    fake.revoke()
    failed = engine.sync("gmail", revoked).error
    secrets = [*fake.refresh_tokens_issued, *fake.access_tokens_issued, fake.client_secret]
    assert secrets and failed
    store.close()
    database = b"".join(path.read_bytes() for path in (tmp_path / "db").iterdir())
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in failed
        assert secret.encode() not in database


def test_a_call_refused_for_good_fails_the_pass_in_one_sentence(google, tmp_path):
    google.fake.add_message(sender="ann@example.org", to="me@gmail.com")
    google.fake.inject("messages.list", 400)
    refused = r"Google refused messages.list of CATEGORY_FORUMS \(HTTP 400\)"
    with pytest.raises(SourceError, match=refused):
        list(gmail(google, tmp_path).pull(None, set()))


def test_the_estimate_is_based_on_the_quota():
    assert estimate(41_200, 180_000, 250) == (
        "41,200 of 180,000 read, about 46 min left at Google's rate limit")
    assert estimate(10, 10, 250) == "10 of 10 read"


def test_the_same_message_in_gmail_and_in_an_imap_or_takeout_source_counts_once(
        google, tmp_path):
    from syncd.model import Role as MailRole
    from syncd.testing import FakeConnector, message

    google.fake.add_message(sender="ann@example.org", to="me@gmail.com",
                            message_id="<same@example.org>")
    engine, store = engine_with_store()
    assert engine.sync("gmail", gmail(google, tmp_path)).error is None
    takeout = FakeConnector([message("takeout/1", "ann@example.org", ["me@gmail.com"],
                                     message_id="same@example.org", role=MailRole.INBOX,
                                     date=datetime(2025, 1, 1, tzinfo=UTC))])
    assert engine.sync("takeout", takeout).error is None
    content = database_content(store)
    assert len(content["observations"]) == 2
    assert len(content["interactions"]) == 1


def test_each_thread_gets_its_own_service_object_and_the_token_is_refreshed_once(
        google, tmp_path):
    import threading

    connector = gmail(google, tmp_path)
    mine = connector.session.service("gmail", "v1")
    assert connector.session.service("gmail", "v1") is mine
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(
        connector.session.service("gmail", "v1")))
    thread.start()
    thread.join()
    assert theirs[0] is not mine  # httplib2.Http is not thread-safe
    assert google.fake.calls["token"] == 1


def test_an_unreachable_google_is_a_retried_failure_not_a_pause(google, tmp_path):
    connector = gmail(google, tmp_path)
    google.stop()
    engine, store = engine_with_store()
    report = engine.sync("gmail", connector)
    assert report.error == ("Google's token endpoint cannot be reached; will retry on the "
                            "next pass")
    assert report.error_kind == "source" and not store.is_paused("gmail")


def test_a_missing_client_file_is_one_sentence_that_says_how_to_make_one(google, tmp_path):
    connector = gmail(google, tmp_path, client_secrets=str(tmp_path / "gone.json"))
    with pytest.raises(SourceError, match=r"no OAuth client file at .*gone\.json; create a "
                                          r"\"Desktop app\" OAuth client"):
        list(connector.pull(None, set()))


def test_a_token_handed_over_by_systemd_credentials_is_used(google, tmp_path, monkeypatch):
    kept = google.fake.add_message(sender="ann@example.org", to="me@gmail.com")
    values = options(google, tmp_path / "state", account="me@gmail.com")
    token_file = tmp_path / "state" / "tokens" / "google-me@gmail.com.json"
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    token_file.rename(credentials / "google-me@gmail.com")  # LoadCredential=google-me@...:...
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    _, records, _ = pull_all(quick(GmailConnector("gmail", values, ZONE)))
    assert [record.source_id for record in records] == [kept]
