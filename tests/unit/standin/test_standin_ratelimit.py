"""Replicate's rate limits: the token bucket (pure, fake clock), its settings, and the 429s the
HTTP API answers (through starlette's TestClient)."""

from __future__ import annotations

import time

import pytest
from standin_testkit import MODEL_PATH, FakeNetwork, create, standin

from replicate_standin import StandinSettings
from replicate_standin.ratelimit import TokenBucket, default_burst, retry_after_seconds, token_label

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------ the bucket


def test_given_a_full_bucket_when_the_burst_is_used_then_the_next_request_waits_for_one_refill():
    clock = FakeClock()
    bucket = TokenBucket(600, burst=5, clock=clock)
    assert [bucket.acquire("a") for _ in range(5)] == [0.0] * 5
    wait = bucket.acquire("a")
    assert wait == pytest.approx(0.1)  # 600/min = one token every 0.1 s
    assert retry_after_seconds(wait) == 1


def test_given_an_empty_bucket_when_time_passes_then_it_refills_continuously_up_to_the_burst():
    clock = FakeClock()
    bucket = TokenBucket(60, burst=3, clock=clock)  # one token a second
    for _ in range(3):
        assert bucket.acquire("a") == 0.0
    clock.now += 1.5
    assert bucket.available("a") == pytest.approx(1.5)
    assert bucket.acquire("a") == 0.0
    assert bucket.acquire("a") == pytest.approx(0.5)
    clock.now += 3600
    assert bucket.available("a") == pytest.approx(3.0), "never more than the burst"


def test_given_a_refused_request_when_retried_later_then_the_refusal_took_no_token():
    clock = FakeClock()
    bucket = TokenBucket(60, burst=1, clock=clock)
    assert bucket.acquire("a") == 0.0
    for _ in range(10):  # hammering while empty costs nothing
        assert bucket.acquire("a") == pytest.approx(1.0)
    clock.now += 1.0
    assert bucket.acquire("a") == 0.0


@pytest.mark.parametrize(
    ("per_minute", "elapsed", "retry_after"),
    [(60, 0.0, 1), (60, 0.75, 1), (6, 0.0, 10), (6, 2.5, 8), (1, 0.0, 60), (600, 0.0, 1)],
)
def test_given_an_empty_bucket_when_refused_then_retry_after_is_the_whole_seconds_until_a_token(
    per_minute: int, elapsed: float, retry_after: int
):
    clock = FakeClock()
    bucket = TokenBucket(per_minute, burst=1, clock=clock)
    assert bucket.acquire("a") == 0.0
    clock.now += elapsed
    assert retry_after_seconds(bucket.acquire("a")) == retry_after


def test_given_two_tokens_when_one_uses_up_its_burst_then_the_other_is_untouched():
    clock = FakeClock()
    bucket = TokenBucket(60, burst=2, clock=clock)
    assert [bucket.acquire("a") > 0 for _ in range(3)] == [False, False, True]
    assert [bucket.acquire("b") > 0 for _ in range(3)] == [False, False, True]


def test_given_a_limit_of_zero_when_many_requests_come_then_none_is_ever_refused():
    bucket = TokenBucket(0, clock=FakeClock())
    assert not bucket.enabled
    assert all(bucket.acquire("a") == 0.0 for _ in range(10_000))


def test_given_a_refund_when_a_token_was_taken_then_it_is_back_but_never_above_the_burst():
    clock = FakeClock()
    bucket = TokenBucket(60, burst=2, clock=clock)
    bucket.acquire("a")
    bucket.refund("a")
    assert bucket.available("a") == pytest.approx(2.0)
    bucket.refund("a")
    assert bucket.available("a") == pytest.approx(2.0)


def test_given_no_burst_when_built_then_it_is_ten_seconds_worth():
    assert TokenBucket(600).burst == 100 == default_burst(600)
    assert TokenBucket(3000).burst == 500
    assert TokenBucket(1).burst == 1


def test_given_bad_limits_when_a_bucket_is_built_then_value_error():
    with pytest.raises(ValueError, match="per_minute"):
        TokenBucket(-1)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(60, burst=0)


def test_given_authorization_headers_when_labelled_then_the_token_is_hashed_not_shown():
    label = token_label("Bearer r8_secret_value")
    assert label.startswith("token:") and "r8_secret" not in label
    assert token_label("Token r8_secret_value") == label, "both schemes name the same token"
    assert token_label("Bearer other") != label
    assert token_label(None) == "anonymous"


# ------------------------------------------------------------------ settings


def test_given_no_variables_when_read_then_replicates_limits_with_ten_seconds_of_burst_apply():
    settings = StandinSettings.from_env({})
    assert (settings.create_limit_per_minute, settings.create_burst) == (600, None)
    assert (settings.other_limit_per_minute, settings.other_burst) == (3000, None)


def test_given_limit_variables_when_read_then_each_lands_in_its_field():
    settings = StandinSettings.from_env(
        {
            "STANDIN_CREATE_LIMIT_PER_MINUTE": "0",
            "STANDIN_CREATE_BURST": "7",
            "STANDIN_OTHER_LIMIT_PER_MINUTE": "120",
            "STANDIN_OTHER_BURST": "3",
        }
    )
    assert (settings.create_limit_per_minute, settings.create_burst) == (0, 7)
    assert (settings.other_limit_per_minute, settings.other_burst) == (120, 3)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STANDIN_CREATE_LIMIT_PER_MINUTE": "lots"}, "STANDIN_CREATE_LIMIT_PER_MINUTE must be an integer"),
        ({"STANDIN_CREATE_LIMIT_PER_MINUTE": "-5"}, "STANDIN_CREATE_LIMIT_PER_MINUTE must be >= 0"),
        ({"STANDIN_CREATE_BURST": "0"}, "STANDIN_CREATE_BURST must be at least 1"),
        ({"STANDIN_OTHER_LIMIT_PER_MINUTE": "-1"}, "STANDIN_OTHER_LIMIT_PER_MINUTE must be >= 0"),
        ({"STANDIN_OTHER_BURST": "1.5"}, "STANDIN_OTHER_BURST must be an integer"),
    ],
)
def test_given_bad_limit_variables_when_read_then_a_clear_error_names_the_variable(env: dict[str, str], message: str):
    with pytest.raises(ValueError, match=message):
        StandinSettings.from_env(env)


def test_given_bad_limit_fields_when_the_dataclass_is_built_then_value_error():
    with pytest.raises(ValueError, match="create_limit_per_minute"):
        StandinSettings(create_limit_per_minute=-1)
    with pytest.raises(ValueError, match="other_burst"):
        StandinSettings(other_burst=0)


# ------------------------------------------------------------------ the HTTP API


def test_given_a_burst_of_three_when_a_fourth_create_comes_at_once_then_429_with_retry_after_and_nothing_created():
    network = FakeNetwork()
    with standin(network, create_limit_per_minute=6, create_burst=3, latency_seconds=5) as (client, store):
        answers = [create(client, f"angle: {i}", []) for i in range(4)]
        report = client.get("/_standin/faults").json()
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    refused = answers[3]
    assert refused.headers["Retry-After"] == "10"  # 6/min: one token every 10 s
    assert refused.json() == {
        "title": "Request was throttled.",
        "detail": "Request was throttled. Your rate limit resets in ~10s.",
        "status": 429,
    }
    assert len(store.list_predictions()) == 3
    create_limits = report["rate_limits"]["create"]
    assert (create_limits["limit_per_minute"], create_limits["burst"]) == (6, 3)
    assert (create_limits["created"], create_limits["throttled"], create_limits["answered_429"]) == (3, 1, 1)
    assert create_limits["by_token"] == {"anonymous": {"created": 3, "throttled": 1}}


def test_given_both_create_routes_when_used_then_they_share_one_limit():
    network = FakeNetwork()
    with standin(network, create_limit_per_minute=60, create_burst=2, latency_seconds=5) as (client, _store):
        first = create(client, "angle: a", [])
        second = client.post("/v1/predictions", json={"version": "google/nano-banana", "input": {"prompt": "b"}})
        third = client.post("/v1/predictions", json={"version": "google/nano-banana", "input": {"prompt": "c"}})
    assert (first.status_code, second.status_code, third.status_code) == (201, 201, 429)


def test_given_two_api_tokens_when_one_is_throttled_then_the_other_still_creates_and_the_report_splits_them():
    network = FakeNetwork()
    with standin(network, create_limit_per_minute=60, create_burst=1, latency_seconds=5) as (client, _store):
        post = lambda token: client.post(  # noqa: E731
            MODEL_PATH, json={"input": {"prompt": "x"}}, headers={"Authorization": f"Bearer {token}"}
        )
        statuses = [post("r8_a").status_code, post("r8_a").status_code, post("r8_b").status_code]
        by_token = client.get("/_standin/faults").json()["rate_limits"]["create"]["by_token"]
    assert statuses == [201, 429, 201]
    assert by_token == {
        token_label("Bearer r8_a"): {"created": 1, "throttled": 1},
        token_label("Bearer r8_b"): {"created": 1, "throttled": 0},
    }
    assert not any("r8_" in label for label in by_token)


def test_given_a_create_limit_of_zero_when_many_creates_come_at_once_then_none_is_throttled():
    network = FakeNetwork()
    with standin(network, create_limit_per_minute=0, latency_seconds=5) as (client, store):
        statuses = {create(client, f"angle: {i}", []).status_code for i in range(150)}
        limits = client.get("/_standin/faults").json()["rate_limits"]["create"]
    assert statuses == {201}
    assert len(store.list_predictions()) == 150
    assert (limits["created"], limits["throttled"], limits["burst"]) == (150, 0, None)


def test_given_the_default_limit_when_creates_come_as_fast_as_possible_then_the_ten_second_burst_passes_first():
    network = FakeNetwork()
    with standin(network, latency_seconds=5) as (client, _store):
        started = time.monotonic()
        passed = 0
        while (answer := create(client, f"angle: {passed}", [])).status_code == 201:
            passed += 1
            assert passed < 1000, "never throttled"
        elapsed = time.monotonic() - started
        limits = client.get("/_standin/faults").json()["rate_limits"]["create"]
    assert (limits["limit_per_minute"], limits["burst"]) == (600, 100)
    # The burst of 100, plus the tokens refilled (10 a second) while the requests ran.
    assert 100 <= passed <= 100 + 10 * elapsed + 1
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"


def test_given_the_other_endpoints_limit_when_gets_exceed_it_then_429_with_retry_after_while_creates_still_pass():
    network = FakeNetwork()
    with standin(network, other_limit_per_minute=30, other_burst=2, latency_seconds=5) as (client, _store):
        created = create(client, "angle: x", []).json()
        gets = [client.get(f"/v1/predictions/{created['id']}") for _ in range(3)]
        another = create(client, "angle: y", [])
        report = client.get("/_standin/faults")  # the stand-in's own route is never limited
    assert [g.status_code for g in gets] == [200, 200, 429]
    assert gets[2].headers["Retry-After"] == "2"  # 30/min: one token every 2 s
    assert another.status_code == 201
    assert report.status_code == 200 and report.json()["rate_limits"]["other"]["throttled"] == 1


def test_given_the_ratelimit_fault_when_it_answers_429_then_retry_after_is_set_and_no_limit_token_is_used():
    network = FakeNetwork()
    with standin(network, create_limit_per_minute=60, create_burst=1, faults={"ratelimit": 1.0}) as (client, store):
        faulted = [create(client, "angle: x", []) for _ in range(3)]
        store.set_faults({})
        after = create(client, "angle: x", [])
        limits = client.get("/_standin/faults").json()["rate_limits"]["create"]
    assert {f.status_code for f in faulted} == {429}
    assert all(f.headers["Retry-After"] == "1" and "throttled" in f.json()["detail"] for f in faulted)
    assert after.status_code == 201, "the fault's 429s did not use up the one-request burst"
    assert (limits["throttled"], limits["answered_429"], limits["created"]) == (0, 3, 1)
