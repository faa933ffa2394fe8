"""fetch_sheet and PresetsStore against a real local HTTP server (and moto S3)."""

from __future__ import annotations

import threading
import time

import boto3
import pytest
from moto import mock_aws

from marketplace import presets as presets_module
from marketplace.errors import PresetsInvalid, PresetsUnavailable
from marketplace.presets import (
    MAX_SHEET_BYTES,
    SHEET_ANGLES,
    SHEET_COLORS,
    SHEET_GLOBAL,
    SHEETS,
    PresetsStore,
    SheetFetchError,
    fetch_sheet,
    last_good_key,
    parse_presets,
)
from marketplace.presets import fetch as presets_fetch
from tests.support.presets_testkit import BUCKET, FILES, SheetServer, closed_port_url, sample_text, sample_texts
from tests.support.resets import reset_marketplace_caches

pytestmark = pytest.mark.integration


def sample_presets():
    t = sample_texts()
    return parse_presets(t[SHEET_GLOBAL], t[SHEET_ANGLES], t[SHEET_COLORS])


def make_store(server: SheetServer, clock, s3=None, bucket: str = "", cache_seconds: float = 60) -> PresetsStore:
    return PresetsStore(s3=s3, bucket=bucket, clock=clock, cache_seconds=cache_seconds, urls=server.urls())


def s3_text(s3, sheet: str) -> str:
    return s3.get_object(Bucket=BUCKET, Key=last_good_key(sheet))["Body"].read().decode("utf-8")


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(presets_fetch, "FETCH_TIMEOUT", (1.0, 0.25))


# --------------------------------------------------------------------------- fetch_sheet


def test_given_a_published_sheet_with_bom_when_fetched_then_the_text_comes_back_without_bom(server):
    server.set("bom", "\ufeffkey,prompt_template,variables\r\na,b,c\r\n".encode())
    assert fetch_sheet(server.url("bom"), SHEET_GLOBAL) == "key,prompt_template,variables\r\na,b,c\r\n"
    assert server.count("bom") == 1


def test_given_a_session_when_fetching_then_it_is_used_and_left_open(server):
    import requests

    with requests.Session() as session:
        assert fetch_sheet(server.url("angle_presets"), SHEET_ANGLES, session=session) == sample_text(SHEET_ANGLES)
        assert fetch_sheet(server.url("angle_presets"), SHEET_ANGLES, session=session) == sample_text(SHEET_ANGLES)
    assert server.count("angle_presets") == 2


@pytest.mark.parametrize("first", [("status", 500), ("status", 503), ("drop",)])
def test_given_one_transient_failure_when_fetched_then_one_retry_succeeds(server, first, log):
    server.then("color_presets", first)
    assert fetch_sheet(server.url("color_presets"), SHEET_COLORS) == sample_text(SHEET_COLORS)
    assert server.count("color_presets") == 2
    assert [r[2]["sheet"] for r in log.at("INFO")] == [SHEET_COLORS]


def test_given_two_server_errors_when_fetched_then_sheet_fetch_error_with_status_after_exactly_two_tries(server, log):
    server.set_always("color_presets", ("status", 502))
    with pytest.raises(SheetFetchError) as info:
        fetch_sheet(server.url("color_presets", query="token=s3cret"), SHEET_COLORS)
    assert info.value.sheet == SHEET_COLORS and info.value.status == 502
    assert SHEET_COLORS in str(info.value) and "502" in str(info.value)
    assert "s3cret" not in str(info.value) and "127.0.0.1" not in str(info.value)
    assert server.count("color_presets") == 2
    logged = repr(log.records)
    assert "s3cret" not in logged and "/color_presets.csv" in logged


@pytest.mark.parametrize("status", [404, 403, 410])
def test_given_a_client_error_when_fetched_then_no_retry(server, status):
    server.set("gone", "x", status=status)
    with pytest.raises(SheetFetchError) as info:
        fetch_sheet(server.url("gone"), SHEET_ANGLES)
    assert info.value.status == status
    assert server.count("gone") == 1


def test_given_nothing_listening_when_fetched_then_sheet_fetch_error_without_status():
    started = time.monotonic()
    with pytest.raises(SheetFetchError) as info:
        fetch_sheet(closed_port_url(), SHEET_GLOBAL)
    assert info.value.status is None and info.value.sheet == SHEET_GLOBAL
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("url", ["", "not a url", "ftp://example.invalid/x.csv"])
def test_given_no_usable_url_when_fetched_then_sheet_fetch_error(url):
    with pytest.raises(SheetFetchError):
        fetch_sheet(url, SHEET_GLOBAL)


def test_given_a_slow_answer_once_when_fetched_then_the_read_timeout_triggers_one_retry(server, short_timeouts):
    server.then("angle_presets", ("sleep", 0.8))
    started = time.monotonic()
    assert fetch_sheet(server.url("angle_presets"), SHEET_ANGLES) == sample_text(SHEET_ANGLES)
    assert server.count("angle_presets") == 2
    assert time.monotonic() - started < 0.8


def test_given_a_hanging_server_when_fetched_then_it_gives_up_after_two_timeouts(server, short_timeouts):
    server.set_always("angle_presets", ("sleep", 1.0))
    started = time.monotonic()
    with pytest.raises(SheetFetchError) as info:
        fetch_sheet(server.url("angle_presets"), SHEET_ANGLES)
    assert info.value.status is None and "Timeout" in str(info.value)
    assert server.count("angle_presets") == 2
    assert time.monotonic() - started < 1.5


def test_given_the_default_timeouts_then_they_are_connect_3_read_10():
    assert presets_module.FETCH_TIMEOUT == (3.0, 10.0)


@pytest.mark.parametrize("streamed", [False, True], ids=["with-length", "streamed"])
def test_given_a_body_over_one_mib_when_fetched_then_presets_invalid_without_column(server, streamed):
    server.set("big", b"a," * (MAX_SHEET_BYTES // 2 + 10))
    if streamed:
        server.set_always("big", ("stream",))
    with pytest.raises(PresetsInvalid) as info:
        fetch_sheet(server.url("big"), SHEET_COLORS)
    assert info.value.sheet == SHEET_COLORS and info.value.column is None
    assert server.count("big") == 1


def test_given_a_streamed_body_under_the_cap_when_fetched_then_read_to_the_end(server):
    server.set_always("color_presets", ("stream",))
    assert fetch_sheet(server.url("color_presets"), SHEET_COLORS) == sample_text(SHEET_COLORS)


def test_given_bytes_that_are_not_utf8_when_fetched_then_presets_invalid(server):
    server.set("latin1", "color_key,color_label\nrot,Grün\n".encode("latin-1"))
    with pytest.raises(PresetsInvalid) as info:
        fetch_sheet(server.url("latin1"), SHEET_COLORS)
    assert info.value.sheet == SHEET_COLORS and "UTF-8" in str(info.value)


def test_given_an_html_page_instead_of_csv_when_fetched_then_it_counts_as_a_fetch_failure(server):
    server.set("login", "<html>Sign in</html>", content_type="text/html; charset=utf-8")
    with pytest.raises(SheetFetchError) as info:
        fetch_sheet(server.url("login"), SHEET_GLOBAL)
    assert "HTML" in str(info.value)


# --------------------------------------------------------------------------- PresetsStore: cache


def test_given_a_loaded_store_when_asked_again_within_the_cache_time_then_no_request_is_made(server, clock, s3):
    store = make_store(server, clock, s3, BUCKET)
    first = store.get()
    assert first == sample_presets()
    assert server.count() == 3
    clock.advance(59.9)
    assert store.get() is first
    assert server.count() == 3


def test_given_the_cache_expired_when_asked_then_the_sheets_are_fetched_again(server, clock, s3):
    store = make_store(server, clock, s3, BUCKET)
    first = store.get()
    clock.advance(60)
    second = store.get()
    assert server.count() == 6
    assert second == first and second is not first


def test_given_a_sheet_edit_when_the_cache_expires_then_the_new_wording_is_served(server, clock, s3):
    store = make_store(server, clock, s3, BUCKET)
    store.get()
    edited = sample_text(SHEET_GLOBAL).replace("Repaint the body", "Respray the whole body")
    server.set("global_prompts", edited)
    assert "Respray" not in store.get().prompt("colorization").prompt_template  # still cached
    clock.advance(61)
    assert "Respray" in store.get().prompt("colorization").prompt_template
    assert s3_text(s3, SHEET_GLOBAL) == edited


def test_given_zero_cache_seconds_when_asked_twice_then_fetched_twice(server, clock):
    store = make_store(server, clock, cache_seconds=0)
    store.get()
    store.get()
    assert server.count() == 6


def test_given_many_threads_on_a_cold_store_when_they_ask_at_once_then_one_refresh_serves_all(server, clock):
    store = make_store(server, clock)
    barrier = threading.Barrier(16)
    results, errors = [], []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(store.get())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert len(results) == 16 and all(r is results[0] for r in results)
    assert server.count() == 3


# --------------------------------------------------------------------------- last good copy


def test_given_a_good_load_then_the_raw_csvs_are_saved_to_s3_once(server, clock, s3):
    store = make_store(server, clock, s3, BUCKET)
    store.get()
    for sheet in SHEETS:
        assert s3_text(s3, sheet) == sample_text(sheet)
    puts = s3.calls["put_object"]
    assert puts == 3
    for _ in range(3):
        clock.advance(61)
        store.get()
    assert server.count() == 12
    assert s3.calls["put_object"] == 3  # unchanged content: no put per refresh


def test_given_only_one_sheet_changed_then_only_that_copy_is_rewritten(server, clock, s3):
    store = make_store(server, clock, s3, BUCKET)
    store.get()
    server.set("color_presets", sample_text(SHEET_COLORS) + "teal,Teal,Teal #008080,TRUE\n")
    clock.advance(61)
    assert store.get().color("teal") is not None
    assert s3.calls["put_object"] == 4
    assert "teal" in s3_text(s3, SHEET_COLORS)


def test_given_s3_already_holds_the_same_copy_when_a_new_process_loads_then_no_put(server, clock, s3):
    make_store(server, clock, s3, BUCKET).get()
    assert s3.calls["put_object"] == 3
    make_store(server, clock, s3, BUCKET).get()  # a new cold start
    assert s3.calls["put_object"] == 3
    assert s3.calls["head_object"] == 6


def test_given_a_fetch_failure_after_a_good_load_then_the_memory_copy_is_served_with_a_warning(server, clock, s3, log):
    store = make_store(server, clock, s3, BUCKET)
    store.get()
    server.set_always("color_presets", ("status", 500))
    server.set("angle_presets", sample_text(SHEET_ANGLES).replace("Front (0°)", "Front (straight on)"))
    clock.advance(61)
    presets = store.get()
    assert presets.angle("front_0").angle_label == "Front (straight on)"  # fresh sheets still win
    assert presets.colors == sample_presets().colors
    warnings = log.at("WARNING")
    assert len(warnings) == 1
    assert warnings[0][2]["sheet"] == SHEET_COLORS and warnings[0][2]["source"] == "memory"
    assert warnings[0][2]["status"] == 500
    assert server.count("color_presets") == 3  # first load + one try + one retry
    # the fallback is cached too: an outage does not cost two timeouts per request
    clock.advance(30)
    store.get()
    assert server.count("color_presets") == 3


def test_given_the_server_is_down_on_a_cold_start_then_the_s3_copy_is_served_with_warnings(server, clock, s3, log):
    make_store(server, clock, s3, BUCKET).get()  # an earlier process left the copy
    server.stop()
    presets = make_store(server, clock, s3, BUCKET).get()
    assert presets == sample_presets()
    warnings = log.at("WARNING")
    assert sorted(w[2]["sheet"] for w in warnings) == sorted(SHEETS)
    assert {w[2]["source"] for w in warnings} == {"s3"}


def test_given_the_server_answers_500_on_a_cold_start_then_the_s3_copy_is_served(server, clock, s3, log):
    make_store(server, clock, s3, BUCKET).get()
    for name in FILES.values():
        server.set_always(name, ("status", 500))
    assert make_store(server, clock, s3, BUCKET).get() == sample_presets()
    assert len(log.at("WARNING")) == 3


def test_given_no_copy_anywhere_when_a_sheet_cannot_be_fetched_then_presets_unavailable(server, clock, s3, log):
    server.set_always("angle_presets", ("status", 503))
    with pytest.raises(PresetsUnavailable) as info:
        make_store(server, clock, s3, BUCKET).get()
    assert SHEET_ANGLES in str(info.value)
    assert [r[2]["sheet"] for r in log.at("ERROR")] == [SHEET_ANGLES]


def test_given_no_bucket_and_no_memory_copy_when_the_server_is_down_then_presets_unavailable(clock):
    store = PresetsStore(bucket="", clock=clock, cache_seconds=60, urls={sheet: closed_port_url(sheet) for sheet in SHEETS})
    with pytest.raises(PresetsUnavailable) as info:
        store.get()
    assert "could not be fetched" in str(info.value)


def test_given_a_timeout_after_a_good_load_then_the_copy_is_served_quickly(server, clock, log, short_timeouts):
    store = make_store(server, clock)
    store.get()
    server.set_always("angle_presets", ("sleep", 1.0))
    clock.advance(61)
    started = time.monotonic()
    assert store.get() == sample_presets()
    assert time.monotonic() - started < 1.5
    assert [w[2]["sheet"] for w in log.at("WARNING")] == [SHEET_ANGLES]


def test_given_one_server_error_during_a_refresh_then_the_retry_succeeds_without_warning(server, clock, log):
    store = make_store(server, clock)
    server.then("global_prompts", ("status", 500))
    assert store.get() == sample_presets()
    assert server.count() == 4
    assert log.at("WARNING") == []


def test_given_an_s3_that_cannot_save_when_loading_then_the_presets_are_still_served(server, clock, s3, log):
    store = make_store(server, clock, s3, "no-such-bucket")
    assert store.get() == sample_presets()
    assert {w[1] for w in log.at("WARNING")} == {"Could not save the last good presets copy"}


# --------------------------------------------------------------------------- invalid sheets


def test_given_a_broken_sheet_after_a_good_load_then_presets_invalid_is_raised_not_the_old_copy(server, clock, s3, log):
    store = make_store(server, clock, s3, BUCKET)
    store.get()
    server.set("angle_presets", sample_text(SHEET_ANGLES).replace("angle_desc", "description", 1))
    clock.advance(61)
    with pytest.raises(PresetsInvalid) as info:
        store.get()
    assert (info.value.sheet, info.value.column) == (SHEET_ANGLES, "angle_desc")
    errors = log.at("ERROR")
    assert errors and errors[0][2]["sheet"] == SHEET_ANGLES and errors[0][2]["column"] == "angle_desc"
    assert s3_text(s3, SHEET_ANGLES) == sample_text(SHEET_ANGLES)  # the good copy is kept

    # the failure is remembered briefly: no fetch storm while it is broken
    count = server.count()
    clock.advance(1)
    with pytest.raises(PresetsInvalid):
        store.get()
    assert server.count() == count

    # fixed sheet: served again after the short error cache
    server.set("angle_presets", sample_text(SHEET_ANGLES))
    clock.advance(5)
    assert store.get() == sample_presets()


def test_given_a_broken_sheet_on_a_cold_start_with_a_copy_in_s3_then_still_presets_invalid(server, clock, s3):
    make_store(server, clock, s3, BUCKET).get()
    server.set("global_prompts", sample_text(SHEET_GLOBAL).replace("{{COLOR_NAME}}", "the colour"))
    with pytest.raises(PresetsInvalid) as info:
        make_store(server, clock, s3, BUCKET).get()
    assert (info.value.sheet, info.value.column) == (SHEET_GLOBAL, "prompt_template")


def test_given_an_oversized_sheet_when_the_store_refreshes_then_presets_invalid(server, clock):
    server.set("color_presets", b"x" * (MAX_SHEET_BYTES + 1))
    with pytest.raises(PresetsInvalid) as info:
        make_store(server, clock).get()
    assert info.value.sheet == SHEET_COLORS and info.value.column is None


# --------------------------------------------------------------------------- process-wide store


def test_given_settings_from_the_environment_when_get_presets_is_called_then_one_store_serves_the_process(
    server, aws_env, monkeypatch
):
    env = {
        "TABLE_NAME": "presets-table",
        "BUCKET_NAME": BUCKET,
        "GLOBAL_PROMPTS_CSV_URL": server.url("global_prompts"),
        "ANGLE_PRESETS_CSV_URL": server.url("angle_presets"),
        "COLOR_PRESETS_CSV_URL": server.url("color_presets"),
        "PRESETS_CACHE_SECONDS": "300",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_marketplace_caches()
    try:
        with mock_aws():
            boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
            first = presets_module.get_presets()
            assert first == sample_presets()
            assert presets_module.get_presets() is first
            assert server.count() == 3
            key = last_good_key(SHEET_COLORS)
            assert boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode() == sample_text(SHEET_COLORS)
            presets_module.reset_presets_cache()
            assert presets_module.get_presets() == first
            assert server.count() == 6
    finally:
        reset_marketplace_caches()


def test_given_a_new_store_then_nothing_is_read_before_the_first_get(monkeypatch):
    def boom():
        raise AssertionError("settings read too early")

    monkeypatch.setattr("marketplace.config.get_settings", boom)
    PresetsStore()  # constructing reads nothing
    presets_module.reset_presets_cache()
