"""Pure parts of the Google sources: the token bucket, error classification, client files."""

from __future__ import annotations

import json

import pytest

from connectors.google._auth import TokenBucket, is_transient, read_client_secrets
from syncd.errors import CredentialError


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


def test_the_token_bucket_never_lets_more_than_the_rate_through_from_the_start():
    time = FakeTime()
    bucket = TokenBucket(250, clock=time.clock, sleep=time.sleep)
    for _ in range(100):
        bucket.take(5 * 50)  # a batch of 50 messages.get
    # 25,000 units at 250 units/s: 100 s, the first batch included.
    assert time.now == pytest.approx(100.0)


def test_the_token_bucket_lets_a_paused_client_burst_at_most_one_second_of_quota():
    time = FakeTime()
    bucket = TokenBucket(250, clock=time.clock, sleep=time.sleep)
    bucket.take(250)
    time.now += 60  # idle for a minute
    before = time.now
    bucket.take(250)
    assert time.now == before  # the refilled second
    bucket.take(250)
    assert time.now == pytest.approx(before + 1.0)


def test_a_rate_of_zero_turns_the_bucket_off():
    time = FakeTime()
    bucket = TokenBucket(0, clock=time.clock, sleep=time.sleep)
    for _ in range(1000):
        bucket.take(250)
    assert time.slept == 0


@pytest.mark.parametrize(("status", "reason", "transient"), [
    (429, "rateLimitExceeded", True), (403, "userRateLimitExceeded", True),
    (403, "rateLimitExceeded", True), (403, "forbidden", False), (500, "", True),
    (503, "backendError", True), (404, "notFound", False), (400, "invalid", False)])
def test_google_says_which_errors_to_retry(status, reason, transient):
    assert is_transient(status, reason) is transient


def test_a_missing_or_wrong_client_file_says_how_to_make_one(tmp_path):
    with pytest.raises(CredentialError, match="Desktop app"):
        read_client_secrets(tmp_path / "nothing.json")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"type": "service_account"}))
    with pytest.raises(CredentialError, match="not an OAuth client file"):
        read_client_secrets(wrong)
