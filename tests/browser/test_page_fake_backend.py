"""Component-level browser tests of web/ against tests/browser/fake_backend.py (no real stack).

Every test runs in a fresh Chromium page that fails on any console error (see conftest.py).
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.browser_kit import DESKTOP, PHONE, ConsoleRecorder, make_photos, save_matrix_screenshots
from tests.browser.fake_backend import FakeBackend

pytestmark = pytest.mark.browser

ANGLES = ["front_0", "side_90"]
COLORS = ["red_metallic", "blue_metallic"]


# ----------------------------------------------------------------------------- helpers


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    fake = FakeBackend().start()
    yield fake
    fake.stop()


def open_app(page: Page, backend: FakeBackend, query: str = "?user=dealer-7") -> None:
    page.goto(f"{backend.base_url}/{query}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")


def choose(page: Page, angles: list[str], colors: list[str]) -> None:
    for a in angles:
        page.get_by_test_id(f"angle-{a}").check()
    for c in colors:
        page.get_by_test_id(f"color-{c}").check()


def cell(page: Page, angle: str, color: str | None):
    return page.get_by_test_id(f"cell-{angle}-{color or 'angle'}")


def active_jobs(page: Page):
    return page.locator("[data-testid=jobs-tray] [data-testid=jobs-item]:not([data-leaving])")


def start_batch(page: Page, backend: FakeBackend, tmp_path: Path, *, auto: bool = True, photos: int = 3) -> str:
    page.get_by_test_id("photo-input").set_input_files(make_photos(tmp_path, photos))
    choose(page, ANGLES, COLORS)
    if not auto:
        page.get_by_test_id("auto-colorize").uncheck()
    page.get_by_test_id("generate").click()
    expect(page.get_by_test_id("toast").filter(has_text="Batch started")).to_be_visible()
    return backend.latest_batch_id()


def image_loaded(locator) -> bool:
    return locator.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")


# ----------------------------------------------------------------------------- the form


def test_selection_drives_info_line_button_text_and_disabled_reason(backend: FakeBackend, page: Page, tmp_path: Path):
    open_app(page, backend)
    info, button, reason = (
        page.get_by_test_id("output-info"),
        page.get_by_test_id("generate"),
        page.get_by_test_id("generate-reason"),
    )

    # angles listed by `order` (the fake serves them shuffled), labels shown
    keys = page.locator("#angle-list input").evaluate_all("els => els.map(e => e.value)")
    assert keys == ["front_0", "front_45", "side_90", "rear_135", "rear_180"]
    expect(page.locator("#angle-list")).to_contain_text("Side profile")
    # colour swatches: the #RRGGBB of promptValue, else a guess from the name
    red_swatch = page.locator(".color-chip", has=page.get_by_test_id("color-red_metallic")).locator(".swatch")
    assert "#B3121F" in red_swatch.get_attribute("style")
    silver = page.locator(".color-chip", has=page.get_by_test_id("color-silver")).locator(".swatch")
    assert re.search(r"#[0-9a-f]{6}", silver.get_attribute("style"))

    expect(button).to_be_disabled()
    expect(reason).to_contain_text("Add at least one photo")
    expect(reason).to_contain_text("Pick at least one angle")
    expect(info).to_have_text("0 angles + 0 colour variants = 0 images")

    page.get_by_test_id("photo-input").set_input_files(make_photos(tmp_path, 3))
    expect(page.locator("#thumbs .thumb")).to_have_count(3)
    expect(reason).to_have_text("Pick at least one angle")
    expect(button).to_be_disabled()

    choose(page, ANGLES, COLORS)
    expect(info).to_have_text("2 angles + 4 colour variants = 6 images")
    expect(button).to_have_text("Generate 2 Angles → 2 Colors each")
    expect(button).to_be_enabled()
    expect(reason).to_have_text("")

    auto = page.get_by_test_id("auto-colorize")
    expect(auto).to_be_checked()  # on by default
    auto.uncheck()
    expect(button).to_have_text("Generate 2 Angles (colors later)")
    expect(info).to_have_text("2 angles = 2 images (colours later)")
    auto.check()
    page.get_by_test_id("color-blue_metallic").uncheck()
    page.get_by_test_id("angle-front_45").check()
    expect(info).to_have_text("3 angles + 3 colour variants = 6 images")
    expect(button).to_have_text("Generate 3 Angles → 1 Colors each")

    # remove buttons on the previews
    page.get_by_role("button", name="Remove car-0.jpg").click()
    expect(page.locator("#thumbs .thumb")).to_have_count(2)
    page.get_by_role("button", name="Remove car-1.jpg").click()
    page.get_by_role("button", name="Remove car-2.jpg").click()
    expect(button).to_be_disabled()
    expect(reason).to_have_text("Add at least one photo")
    # the disabled reason is tied to the button for assistive technology
    assert button.get_attribute("aria-describedby") == "generate-reason"


def test_drag_and_drop_and_file_type_filter(backend: FakeBackend, page: Page, console: ConsoleRecorder, tmp_path: Path):
    open_app(page, backend)
    jpeg = list(make_photos(tmp_path, 1)[0].read_bytes())
    page.evaluate(
        """jpeg => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(jpeg)], "drop.jpg", {type: "image/jpeg"}));
            // a HEIC's header (Chromium cannot decode HEIC: its header is the check)
            const heic = new Uint8Array([0, 0, 0, 24, 102, 116, 121, 112, 104, 101, 105, 99]);
            dt.items.add(new File([heic], "iphone.HEIC", {type: ""}));
            dt.items.add(new File([new Uint8Array([71, 73, 70])], "anim.gif", {type: "image/gif"}));
            const zone = document.getElementById("dropzone");
            for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
            }
        }""",
        jpeg,
    )
    expect(page.locator("#thumbs .thumb")).to_have_count(2)
    expect(page.get_by_test_id("toast").filter(has_text="anim.gif")).to_be_visible()
    # the HEIC has no browser preview: a labelled tile instead of a broken image
    expect(page.locator("#thumbs .no-preview").first).to_be_visible()
    choose(page, ["front_0"], [])
    page.get_by_test_id("generate").click()
    expect(page.get_by_test_id("toast").filter(has_text="Batch started")).to_be_visible()
    files = backend.requests_to("POST", "/api/car/marketplace/uploads")[0]["json"]["files"]
    assert [(f["filename"], f["contentType"], f["size"]) for f in files] == [
        ("drop.jpg", "image/jpeg", len(jpeg)),
        ("iphone.HEIC", "image/heic", 12),
    ]


# ----------------------------------------------------------------------------- generate and the matrix


def test_generate_uploads_bytes_then_shows_placeholders_and_fills_from_events(
    backend: FakeBackend, page: Page, tmp_path: Path, console: ConsoleRecorder
):
    open_app(page, backend)
    photos = make_photos(tmp_path, 3)
    page.get_by_test_id("photo-input").set_input_files(photos)
    choose(page, ANGLES, COLORS)
    page.get_by_test_id("generate").click()
    expect(page.get_by_test_id("toast").filter(has_text="Batch started")).to_be_visible()
    batch_id = backend.latest_batch_id()

    # six placeholders at once, all queued, straight from the 202 answer
    cells = page.locator("[data-testid^=cell-]")
    expect(cells).to_have_count(6)
    for a in ANGLES:
        for c in [None, *COLORS]:
            expect(cell(page, a, c)).to_have_attribute("data-status", "queued")
    expect(page.get_by_test_id("batch-progress")).to_have_text("0 / 6 done")
    expect(active_jobs(page)).to_have_count(6)
    assert f"batch={batch_id}" in page.url and "user=dealer-7" in page.url

    # what went over the wire
    upload_req = backend.requests_to("POST", "/api/car/marketplace/uploads")[0]
    assert [f["contentType"] for f in upload_req["json"]["files"]] == ["image/jpeg"] * 3
    assert sorted(f["size"] for f in upload_req["json"]["files"]) == sorted(p.stat().st_size for p in photos)
    stored = sorted(u["data"] for u in backend.uploads.values())
    assert stored == sorted(p.read_bytes() for p in photos)  # bytes intact, no re-encoding
    batch_req = backend.requests_to("POST", "/api/car/marketplace/batch")[0]
    body = batch_req["json"]
    assert body["angles"] == ANGLES and body["colors"] == COLORS and body["autoColorize"] is True
    assert len(body["sourceImageUrls"]) == 3
    assert batch_req["headers"]["idempotency-key"]
    assert batch_req["headers"]["x-dev-user"] == "dealer-7"
    api_calls = [r for r in backend.requests if r["path"].startswith("/api/") and not r["path"].endswith("/config")]
    assert all(r["headers"].get("x-dev-user") == "dealer-7" for r in api_calls)

    # live events fill the cells
    backend.update_cell(batch_id, "front_0", None, "processing")
    expect(cell(page, "front_0", None)).to_have_attribute("data-status", "processing")
    expect(page.locator("[data-testid=jobs-item][data-status=processing]")).to_have_count(1)
    backend.update_cell(batch_id, "front_0", None, "completed")
    front = cell(page, "front_0", None)
    expect(front).to_have_attribute("data-status", "completed")
    expect(front.locator("img")).to_be_visible()
    page.wait_for_function("() => document.querySelector('[data-testid=cell-front_0-angle] img').naturalWidth > 0")
    expect(page.get_by_test_id("batch-progress")).to_have_text("1 / 6 done")
    expect(active_jobs(page)).to_have_count(5)
    expect(page.get_by_test_id("jobs-toggle")).to_have_text("Jobs (5)")
    # Download saves the file (no new tab)
    with page.expect_download() as saved:
        page.get_by_test_id("download-front_0-angle").click()
    assert saved.value.suggested_filename == "front_0-angle.png"
    assert len(page.context.pages) == 1

    # a failure shows its reason, and its tray item leaves after a moment
    backend.update_cell(batch_id, "front_0", "blue_metallic", "failed", error_message="Model refused: content policy")
    failed = cell(page, "front_0", "blue_metallic")
    expect(failed).to_have_attribute("data-status", "failed")
    expect(failed).to_contain_text("Model refused: content policy")

    for a, c in [("side_90", None), ("front_0", "red_metallic"), ("side_90", "red_metallic"), ("side_90", "blue_metallic")]:
        backend.update_cell(batch_id, a, c, "processing")
        backend.update_cell(batch_id, a, c, "completed")
    expect(page.get_by_test_id("batch-progress")).to_have_text("6 / 6 done")
    # a batch with a failure is a warning with its counts, never a success
    expect(page.get_by_test_id("batch-status")).to_have_text("Finished with problems: 5 images made, 1 failed")
    expect(page.get_by_test_id("batch-status")).to_have_attribute("data-tone", "warning")
    expect(active_jobs(page)).to_have_count(0, timeout=8000)
    expect(page.locator("[data-testid=jobs-item]")).to_have_count(0, timeout=8000)
    progress = page.get_by_role("progressbar")
    assert progress.get_attribute("aria-valuenow") == "6" and progress.get_attribute("aria-valuemax") == "6"

    # the lightbox shows the full image; Escape closes it and focus returns
    cell(page, "side_90", "red_metallic").get_by_role("button", name=re.compile("full size")).click()
    lightbox = page.get_by_test_id("lightbox")
    expect(lightbox).to_be_visible()
    expect(lightbox.locator("#lightbox-img")).to_have_attribute(
        "src", f"{backend.base_url}/fake-assets/{batch_id}/side_90/red_metallic.png"
    )
    expect(lightbox).to_contain_text("Side profile · Red Metallic")
    page.keyboard.press("ArrowRight")
    expect(lightbox.locator("#lightbox-img")).to_have_attribute("src", re.compile(r"side_90/blue_metallic\.png$"))
    page.keyboard.press("Escape")
    expect(lightbox).to_be_hidden()

    assert console.messages == []  # no console output at all without ?debug=1


def test_events_of_other_batches_are_ignored(backend: FakeBackend, page: Page, tmp_path: Path):
    open_app(page, backend)
    batch_id = start_batch(page, backend, tmp_path)
    other = backend.seed_batch(ANGLES, COLORS)
    backend.update_cell(other, "front_0", None, "processing")
    backend.update_cell(other, "front_0", None, "completed")
    backend.push(
        "marketplaceJobUpdated",
        {
            "batchId": "somebody-elses",
            "result": {
                "type": "color",
                "angleKey": "side_90",
                "colorKey": "red_metallic",
                "status": "failed",
                "imageUrl": None,
                "thumbUrl": None,
                "error": "x",
            },
        },
    )
    backend.push("marketplaceBatchCompleted", {"batchId": other})
    # a marker event for our batch proves the others were processed (and dropped) before it
    backend.update_cell(batch_id, "side_90", None, "processing")
    expect(cell(page, "side_90", None)).to_have_attribute("data-status", "processing")
    expect(cell(page, "front_0", None)).to_have_attribute("data-status", "queued")
    expect(cell(page, "side_90", "red_metallic")).to_have_attribute("data-status", "queued")
    expect(page.get_by_test_id("batch-progress")).to_have_text("0 / 6 done")
    expect(page.locator("[data-testid^=cell-]")).to_have_count(6)


def test_updates_that_arrive_before_the_202_answer_are_kept(backend: FakeBackend, page: Page, tmp_path: Path):
    backend.early_update = True
    backend.subscribe_sends_snapshot = False  # only the early push can tell the page
    open_app(page, backend)
    start_batch(page, backend, tmp_path)
    expect(cell(page, "front_0", None)).to_have_attribute("data-status", "processing")


def test_duplicate_and_late_events_never_move_a_cell_backwards(backend: FakeBackend, page: Page, tmp_path: Path):
    open_app(page, backend)
    batch_id = start_batch(page, backend, tmp_path)
    backend.update_cell(batch_id, "front_0", None, "processing")
    backend.update_cell(batch_id, "front_0", None, "completed")
    expect(cell(page, "front_0", None)).to_have_attribute("data-status", "completed")
    late = {"type": "angle", "angleKey": "front_0", "colorKey": None, "status": "processing", "imageUrl": None, "thumbUrl": None}
    backend.push("marketplaceJobUpdated", {"batchId": batch_id, "result": late})
    backend.push("marketplaceJobUpdated", {"batchId": batch_id, "result": {**late, "status": "queued"}})
    backend.update_cell(batch_id, "side_90", None, "processing")  # marker
    expect(cell(page, "side_90", None)).to_have_attribute("data-status", "processing")
    expect(cell(page, "front_0", None)).to_have_attribute("data-status", "completed")
    expect(page.get_by_test_id("batch-progress")).to_have_text("1 / 6 done")


# ----------------------------------------------------------------------------- resilience


def test_reconnect_gets_a_fresh_ticket_resubscribes_and_catches_up(backend: FakeBackend, page: Page, tmp_path: Path):
    open_app(page, backend)
    batch_id = start_batch(page, backend, tmp_path)
    tickets_before = backend.tickets_issued
    assert backend.subscribes == [batch_id]
    gets_before = len(backend.requests_to("GET", f"/api/car/marketplace/batch/{batch_id}"))

    backend.subscribe_sends_snapshot = False  # only the GET catch-up can bring the missed updates
    backend.drop_connections()
    # progress while the page is disconnected: no pushes reach it
    backend.update_cell(batch_id, "front_0", None, "processing", push=False)
    backend.update_cell(batch_id, "front_0", None, "completed", push=False)
    backend.update_cell(batch_id, "side_90", None, "processing", push=False)

    expect(cell(page, "front_0", None)).to_have_attribute("data-status", "completed", timeout=10_000)
    expect(cell(page, "side_90", None)).to_have_attribute("data-status", "processing")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open")
    assert backend.tickets_issued == tickets_before + 1
    assert backend.subscribes == [batch_id, batch_id]
    assert len(backend.requests_to("GET", f"/api/car/marketplace/batch/{batch_id}")) > gets_before

    # and the live stream continues on the new connection
    backend.update_cell(batch_id, "side_90", None, "completed")
    expect(cell(page, "side_90", None)).to_have_attribute("data-status", "completed")


def test_reconnect_backs_off_exponentially_while_tickets_fail(
    backend: FakeBackend, page: Page, tmp_path: Path, console: ConsoleRecorder
):
    console.allow(r"status of 503")
    open_app(page, backend)
    for _ in range(3):
        backend.fail_next("ws_ticket", 503, "Unavailable", "try later")
    start = len(backend.requests_to("POST", "/api/car/marketplace/ws-ticket"))
    backend.drop_connections()
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "reconnecting")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "open", timeout=15_000)
    times = [r["t"] for r in backend.requests_to("POST", "/api/car/marketplace/ws-ticket")[start:]]
    assert len(times) == 4  # three refused, the fourth connects
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # equal jitter with base 0.5 s: the n-th retry waits in [0.5 * 2^n / 2, 0.5 * 2^n] seconds
    assert 0.45 <= gaps[0] <= 1.4, gaps
    assert 0.95 <= gaps[1] <= 2.4, gaps
    assert 1.95 <= gaps[2] <= 4.4, gaps


def test_reload_with_batch_query_restores_the_matrix(backend: FakeBackend, page: Page):
    batch_id = backend.seed_batch(
        ANGLES,
        COLORS,
        statuses={("front_0", None): "completed", ("front_0", "red_metallic"): "processing", ("side_90", None): "failed"},
    )
    open_app(page, backend, f"?user=dealer-7&batch={batch_id}")
    expect(page.locator("[data-testid^=cell-]")).to_have_count(6)
    expect(cell(page, "front_0", None)).to_have_attribute("data-status", "completed")
    expect(cell(page, "front_0", "red_metallic")).to_have_attribute("data-status", "processing")
    expect(cell(page, "side_90", None)).to_have_attribute("data-status", "failed")
    expect(cell(page, "front_0", "blue_metallic")).to_have_attribute("data-status", "queued")
    expect(page.get_by_test_id("batch-progress")).to_have_text("2 / 6 done")
    assert backend.subscribes[-1] == batch_id
    # the left panel shows what the batch was made with
    expect(page.get_by_test_id("angle-front_0")).to_be_checked()
    expect(page.get_by_test_id("color-blue_metallic")).to_be_checked()
    # and it stays live
    backend.update_cell(batch_id, "front_0", "red_metallic", "completed")
    expect(cell(page, "front_0", "red_metallic")).to_have_attribute("data-status", "completed")


def test_unknown_batch_in_query_shows_the_error_and_clears_the_url(backend: FakeBackend, page: Page, console: ConsoleRecorder):
    console.allow(r"status of 404")
    open_app(page, backend, "?batch=does-not-exist")
    expect(page.get_by_test_id("toast").filter(has_text="Batch not found")).to_be_visible()
    assert "batch=" not in page.url
    expect(page.get_by_test_id("batch-status")).to_have_text("No batch yet")


def test_api_error_message_is_shown_in_a_toast(backend: FakeBackend, page: Page, tmp_path: Path, console: ConsoleRecorder):
    console.allow(r"status of 400")
    open_app(page, backend)
    backend.fail_next("batch", 400, "ValidationFailed", "sourceImageUrls[0] is not an upload of this stack")
    page.get_by_test_id("photo-input").set_input_files(make_photos(tmp_path, 1))
    choose(page, ["front_0"], ["red_metallic"])
    page.get_by_test_id("generate").click()
    toast = page.get_by_test_id("toast").filter(has_text="sourceImageUrls[0] is not an upload of this stack")
    expect(toast).to_be_visible()
    expect(toast).to_have_attribute("role", "alert")
    expect(page.get_by_test_id("generate")).to_be_enabled()
    assert page.locator("#toasts").get_attribute("aria-live") == "polite"
    # retrying does not upload the photo again and reuses nothing stale
    page.get_by_test_id("generate").click()
    expect(page.get_by_test_id("toast").filter(has_text="Batch started")).to_be_visible()
    assert len(backend.requests_to("POST", "/api/car/marketplace/uploads")) == 1
    keys = [r["headers"]["idempotency-key"] for r in backend.requests_to("POST", "/api/car/marketplace/batch")]
    assert keys[0] == keys[1]  # same body, same Idempotency-Key


# ----------------------------------------------------------------------------- colorize later


def test_auto_off_then_colorize_a_finished_angle(backend: FakeBackend, page: Page, tmp_path: Path):
    open_app(page, backend)
    batch_id = start_batch(page, backend, tmp_path, auto=False)
    body = backend.requests_to("POST", "/api/car/marketplace/batch")[0]["json"]
    assert body["autoColorize"] is False
    expect(page.locator("[data-testid^=cell-]")).to_have_count(2)
    expect(page.get_by_test_id("batch-progress")).to_have_text("0 / 2 done")
    colorize = page.get_by_test_id("colorize-front_0")
    expect(colorize).to_be_disabled()  # the angle is not ready yet

    backend.update_cell(batch_id, "front_0", None, "processing")
    backend.update_cell(batch_id, "front_0", None, "completed")
    expect(colorize).to_be_enabled()
    expect(colorize).to_have_text(re.compile(r"^Colorize\s*2$"))
    expect(colorize).to_have_accessible_name("Colorize Front in 2 colours")
    expect(page.get_by_test_id("colorize-side_90")).to_be_disabled()
    colorize.click()
    expect(cell(page, "front_0", "red_metallic")).to_have_attribute("data-status", "queued")
    expect(cell(page, "front_0", "blue_metallic")).to_have_attribute("data-status", "queued")
    expect(page.locator("[data-testid^=cell-side_90-]")).to_have_count(1)  # the other row is untouched
    req = backend.requests_to("POST", f"/api/car/marketplace/batch/{batch_id}/colorize")[0]["json"]
    assert req == {"colors": COLORS, "angles": ["front_0"]}
    expect(page.get_by_test_id("batch-progress")).to_have_text("1 / 4 done")
    expect(colorize).to_be_disabled()  # every selected colour exists for this angle now
    expect(colorize).to_have_text("Colorize")

    backend.update_cell(batch_id, "front_0", "red_metallic", "processing")
    backend.update_cell(batch_id, "front_0", "red_metallic", "completed")
    expect(cell(page, "front_0", "red_metallic")).to_have_attribute("data-status", "completed")

    # picking another colour offers it for that row
    page.get_by_test_id("color-black_onyx").check()
    expect(colorize).to_be_enabled()
    colorize.click()
    expect(cell(page, "front_0", "black_onyx")).to_have_attribute("data-status", "queued")


# ----------------------------------------------------------------------------- gallery


def test_gallery_groups_by_batch_newest_first_with_more_images(backend: FakeBackend, page: Page):
    backend.gallery_page_size = 8
    seeded = backend.seed_gallery(11)
    open_app(page, backend)
    page.get_by_test_id("gallery-tab").click()
    expect(page.get_by_test_id("gallery-group")).to_have_count(1)
    expect(page.get_by_test_id("gallery-group")).to_have_attribute("data-batch-id", "b000-old")
    items = page.get_by_test_id("gallery-item")
    expect(items).to_have_count(8)
    assert items.evaluate_all("els => els.map(e => e.dataset.assetId)") == [s["assetId"] for s in seeded[:8]]
    more = page.get_by_role("button", name="Show more images")
    expect(more).to_be_visible()
    more.click()
    expect(items).to_have_count(11)
    expect(more).to_be_hidden()
    assert backend.requests_to("GET", "/api/gallery")[-1]["query"] == "nextToken=8&batchId=b000-old&limit=24"
    items.nth(2).get_by_role("button", name=re.compile("full size")).click()
    expect(page.locator("#lightbox-img")).to_have_attribute("src", seeded[2]["imageUrl"])
    page.keyboard.press("Escape")
    page.get_by_test_id("studio-tab").click()
    expect(page.get_by_test_id("generate")).to_be_visible()


def test_save_to_gallery_marks_saved_and_reveals_it(backend: FakeBackend, page: Page, tmp_path: Path):
    open_app(page, backend)
    batch_id = start_batch(page, backend, tmp_path)
    backend.update_cell(batch_id, "front_0", None, "processing")
    backend.update_cell(batch_id, "front_0", None, "completed")
    save = cell(page, "front_0", None).get_by_role("button", name="Save to Gallery")
    save.click()
    gallery_item = page.locator(f"[data-testid=gallery-item][data-asset-id='{batch_id}.front_0.angle']")
    expect(gallery_item).to_be_visible()
    expect(gallery_item).to_have_class(re.compile("highlight"))
    expect(page.get_by_test_id("gallery-tab")).to_have_attribute("aria-selected", "true")
    page.get_by_test_id("studio-tab").click()
    saved = cell(page, "front_0", None).get_by_role("button", name="Saved ✓")
    expect(saved).to_have_attribute("aria-pressed", "true")


# ----------------------------------------------------------------------------- small screens, debug, screenshots


def test_small_screen_single_column_and_sliding_jobs_tray(backend: FakeBackend, page: Page, tmp_path: Path, artifacts_dir: Path):
    page.set_viewport_size(PHONE)
    open_app(page, backend)
    tray, toggle = page.get_by_test_id("jobs-tray"), page.get_by_test_id("jobs-toggle")
    expect(tray).to_be_hidden()
    expect(toggle).to_have_text("Jobs (0)")
    batch_id = start_batch(page, backend, tmp_path)
    expect(toggle).to_have_text("Jobs (6)")
    backend.update_cell(batch_id, "front_0", None, "processing")
    toggle.click()
    expect(tray).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(active_jobs(page)).to_have_count(6)
    # it slides in from the right edge and ends fully on screen
    page.wait_for_function(
        "() => { const r = document.getElementById('jobs-tray').getBoundingClientRect();"
        " return r.left >= 0 && Math.abs(r.right - innerWidth) < 1; }"
    )
    page.screenshot(path=str(artifacts_dir / "fake-jobs-tray-390x844.png"))
    page.keyboard.press("Escape")
    expect(tray).to_be_hidden()
    # single column: the matrix sits below the form, and scrolls sideways
    setup = page.locator(".setup").bounding_box()
    matrix = page.locator(".matrix-panel").bounding_box()
    assert setup and matrix and matrix["y"] > setup["y"] + setup["height"] - 1
    scroller = page.locator(".matrix-scroll")
    assert scroller.evaluate("el => el.scrollWidth > el.clientWidth")
    sticky = page.locator("tbody th.sticky").first.evaluate("el => getComputedStyle(el).position")
    assert sticky == "sticky"


def test_debug_lines_only_with_debug_query(backend: FakeBackend, page: Page, tmp_path: Path, console: ConsoleRecorder):
    open_app(page, backend, "?debug=1")
    start_batch(page, backend, tmp_path)
    debug = console.of_type("debug")
    assert debug and all(line.startswith("[MP] ") for line in debug)
    assert any("batch body: 3 photos, 2 angles, 2 colours, autoColorize=true" in line for line in debug)
    assert any("enqueue color angle=side_90 color=blue_metallic" in line for line in debug)
    assert not [m for m in console.messages if m[0] != "debug"]


def test_keyboard_reaches_the_form_and_tabs(backend: FakeBackend, page: Page):
    open_app(page, backend)
    page.get_by_test_id("angle-front_0").focus()
    page.keyboard.press("Space")
    expect(page.get_by_test_id("angle-front_0")).to_be_checked()
    page.get_by_test_id("color-red_metallic").focus()
    page.keyboard.press("Space")
    expect(page.get_by_test_id("color-red_metallic")).to_be_checked()
    page.get_by_test_id("studio-tab").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("gallery-tab")).to_be_focused()
    expect(page.get_by_test_id("gallery-tab")).to_have_attribute("aria-selected", "true")
    inert = page.get_by_text("Photo Studio")
    expect(inert).to_have_attribute("title", "in the main web app")
    expect(inert).to_have_attribute("aria-disabled", "true")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_screenshots_of_a_full_matrix(backend: FakeBackend, page: Page, tmp_path: Path, artifacts_dir: Path, viewport):
    page.set_viewport_size(viewport)
    open_app(page, backend)
    page.get_by_test_id("photo-input").set_input_files(make_photos(tmp_path, 3))
    choose(page, ANGLES, [*COLORS, "black_onyx", "white_pearl"])
    page.get_by_test_id("generate").click()
    expect(page.get_by_test_id("toast").filter(has_text="Batch started")).to_be_visible()
    batch_id = backend.latest_batch_id()
    statuses = {
        ("front_0", None): "completed",
        ("front_0", "red_metallic"): "completed",
        ("front_0", "blue_metallic"): "completed",
        ("front_0", "black_onyx"): "processing",
        ("front_0", "white_pearl"): "failed",
        ("side_90", None): "completed",
        ("side_90", "red_metallic"): "processing",
    }
    for (a, c), status in statuses.items():
        backend.update_cell(batch_id, a, c, "processing")
        if status != "processing":
            backend.update_cell(batch_id, a, c, status, error_message="The model returned no image")
    expect(page.get_by_test_id("batch-progress")).to_have_text("5 / 10 done")
    page.wait_for_function("() => [...document.querySelectorAll('.matrix img')].every(i => i.complete && i.naturalWidth > 0)")
    for close in page.locator(".toast-close").all():
        close.click()
    page.wait_for_timeout(300)
    save_matrix_screenshots(page, artifacts_dir, "fake-matrix")
    page.evaluate("window.scrollTo(0, 0)")
    name = f"{viewport['width']}x{viewport['height']}"
    page.screenshot(path=str(artifacts_dir / f"fake-page-{name}.png"))
    page.get_by_test_id("gallery-tab").click()
    expect(page.get_by_test_id("gallery-item")).to_have_count(4)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.gallery-grid img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    page.screenshot(path=str(artifacts_dir / f"fake-gallery-{name}.png"))


def test_config_failure_shows_a_banner_not_a_crash(backend: FakeBackend, page: Page, console: ConsoleRecorder):
    console.allow(r"status of 503")
    backend.fail_next("config", 503, "Unavailable", "down for maintenance")
    page.goto(f"{backend.base_url}/")
    banner = page.locator("#load-error")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("down for maintenance")
    expect(page.get_by_test_id("generate")).to_be_disabled()


def test_page_is_self_contained(backend: FakeBackend, page: Page):
    """No request leaves the origin (no CDN, no web fonts), and nothing 404s (favicon included)."""
    seen: list[tuple[str, int]] = []
    page.on("response", lambda r: seen.append((r.url, r.status)))
    open_app(page, backend)
    time.sleep(0.3)
    assert seen and all(url.startswith(backend.base_url) or url.startswith("data:") for url, _ in seen), seen
    assert all(status < 400 for _, status in seen), seen
    html = (Path(__file__).resolve().parents[2] / "web" / "index.html").read_text()
    assert '<link rel="icon" href="data:,">' in html


# ----------------------------------------------------------------------------- the colour check (issue 13)


def test_given_colour_checks_on_finished_colours_when_shown_then_a_badge_says_so_and_off_invites_regenerate(
    backend: FakeBackend, page: Page, tmp_path: Path, artifacts_dir: Path
):
    open_app(page, backend)
    batch_id = start_batch(page, backend, tmp_path)
    backend.update_cell(batch_id, "front_0", None, "completed")

    def finished(color: str, check: dict | None) -> None:
        image, thumb = backend._cell_urls(batch_id, "front_0", color)
        result = {"type": "color", "angleKey": "front_0", "colorKey": color, "status": "completed",
                  "imageUrl": image, "thumbUrl": thumb, "error": None, "attempt": 1}
        if check:
            result["colorCheck"] = check
        backend.push("marketplaceJobUpdated", {"batchId": batch_id, "result": result})

    finished("red_metallic", {"target": "#b3121f", "measured": "#3050a0", "deltaE": 31.2, "verdict": "off"})
    finished("blue_metallic", {"target": "#1f4fa3", "measured": "#2050a0", "deltaE": 1.4, "verdict": "ok"})
    backend.update_cell(batch_id, "side_90", None, "completed")
    off = page.get_by_test_id("color-check-front_0-red_metallic")
    expect(off).to_have_attribute("data-verdict", "off")
    expect(off).to_have_text("Colour off")
    regenerate = page.get_by_test_id("regenerate-front_0-red_metallic")
    expect(regenerate).to_have_class(re.compile(r"\bsuggested\b"))
    expect(regenerate).to_have_attribute("aria-label", re.compile(r"^Colour looks off: regenerate"))
    expect(page.get_by_test_id("color-check-front_0-blue_metallic")).to_have_attribute("data-verdict", "ok")
    # a cell without a check has no badge (the page does not depend on it)
    expect(page.get_by_test_id("color-check-side_90-angle")).to_have_count(0)
    cell(page, "front_0", "red_metallic").screenshot(path=str(artifacts_dir / "fake-color-check-off.png"))


def test_given_one_row_colorized_when_another_row_is_colorized_in_the_same_colours_then_its_cells_appear(
    backend: FakeBackend, page: Page, tmp_path: Path
):
    """Issue 13: a colour cell added under a column that exists already (no new row or column)
    still gets its slot; it used to read "Not colorized" for good."""
    open_app(page, backend)
    batch_id = start_batch(page, backend, tmp_path, auto=False)
    for a in ANGLES:
        backend.update_cell(batch_id, a, None, "completed")
    page.get_by_test_id("colorize-front_0").click()
    expect(cell(page, "front_0", "red_metallic")).to_be_visible()
    page.get_by_test_id("colorize-side_90").click()
    expect(cell(page, "side_90", "red_metallic")).to_have_attribute("data-status", "queued")
    expect(cell(page, "side_90", "blue_metallic")).to_have_attribute("data-status", "queued")
    expect(page.get_by_text("Not colorized")).to_have_count(0)
