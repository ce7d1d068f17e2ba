"""The whole workspace in a real browser (the system Chromium, via Playwright).

Sign up, upload a product, generate a scenery, order a shoot of two images,
watch them arrive, approve one with the keyboard in the picker, download the
ZIP, then make an API key, use it, revoke it. Screenshots of the main pages go
to $LIGHTBOX_SCREENSHOTS (default <repo>/artifacts/screenshots).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import REQUIRE_SERVICES
from factories import image_bytes
from PIL import Image
from sqlalchemy import select, text

from lightbox.credits import service as credits
from lightbox.generation.models import Record

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-quic"]
WAIT = 60_000  # ms: a shared two-core machine renders slowly at times
REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _screenshot_dir() -> Path:
    folder = Path(os.environ.get("LIGHTBOX_SCREENSHOTS")
                  or REPO / "artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def chromium():
    if not os.path.exists(CHROMIUM):
        if REQUIRE_SERVICES:
            pytest.fail(f"{CHROMIUM} is missing (LIGHTBOX_REQUIRE_SERVICES=1)")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


class Shots:
    """Desktop and phone screenshots of a page, the secret fields masked."""

    def __init__(self, browser, base_url: str, storage_state) -> None:
        self.folder = _screenshot_dir()
        self.phone = browser.new_context(viewport={"width": 390, "height": 844},
                                         device_scale_factor=1,
                                         storage_state=storage_state,
                                         base_url=base_url)
        self.phone_page = self.phone.new_page()

    def take(self, page, name: str, *, phone: bool = True, mask=()) -> None:
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(self.folder / f"{name}-desktop.png"),
                        full_page=False, mask=list(mask), mask_color="#d6d3c4")
        if phone:
            self.phone_page.goto(page.url.split("#")[0])
            self.phone_page.wait_for_load_state("networkidle")
            self.phone_page.screenshot(path=str(self.folder / f"{name}-phone.png"),
                                       full_page=False)


def test_workspace_end_to_end(chromium, web, runtime, password, capfd):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT)
    context = chromium.new_context(viewport={"width": 1280, "height": 800},
                                   device_scale_factor=1, base_url=web.url,
                                   accept_downloads=True)
    context.set_default_timeout(WAIT)
    page = context.new_page()

    # First visit: create the studio.
    page.goto("/")
    expect(page).to_have_title("Create your studio · Lightbox")
    page.screenshot(path=str(_screenshot_dir() / "setup-desktop.png"))
    page.get_by_label("Team name").fill("Northwind Goods")
    page.get_by_label("Email").fill("owner@northwind.test")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create studio").click()
    expect(page).to_have_title("Products · Lightbox")
    with runtime.db.session() as session:
        team_id = session.execute(text("SELECT id FROM teams")).scalar_one()
        credits.grant(session, team_id=team_id, amount=1000, note="welcome grant")

    # A product, uploaded through the file picker; its cutout replaces the photo.
    page.reload()
    page.set_input_files("#files", files=[
        {"name": "amber-bottle.jpg", "mimeType": "image/jpeg",
         "buffer": image_bytes(seed=7, color=(190, 110, 30))},
        {"name": "teal-bottle.jpg", "mimeType": "image/jpeg",
         "buffer": image_bytes(seed=8, color=(20, 130, 140))},
    ])
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_text("Added 2 products")).to_be_visible()
    expect(page.get_by_alt_text("Cutout of amber-bottle")).to_be_visible()
    expect(page.get_by_alt_text("Cutout of teal-bottle")).to_be_visible()
    shots = Shots(chromium, web.url, context.storage_state())
    shots.take(page, "products")

    # A scenery generated from a description appears without a reload.
    page.goto("/sceneries")
    page.get_by_label("Describe the scenery").fill(
        "white marble table top, soft window light, bright airy")
    page.get_by_label("How many").fill("1")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator('#record-grid [data-status="DONE"]')).to_have_count(1)
    shots.take(page, "sceneries")

    # Order a shoot of two images of the amber bottle on that scenery.
    page.goto("/shoot")
    page.locator("label.pick", has_text="amber-bottle").click()
    page.locator("label.pick", has_text="White marble table top").click()
    page.get_by_label("Industry").fill("cosmetics")
    page.get_by_label("Images").fill("2")
    expect(page.locator("#cost")).to_contain_text("2 × 30 = 60 credits")
    expect(page.locator("#cost")).to_contain_text("Available: 990 credits")
    shots.take(page, "shoot")
    page.get_by_role("button", name="Confirm and order").click()
    expect(page).to_have_url(re.compile(r"/orders/ord_"))
    # The order page fills in by itself: no reload below.
    expect(page.locator("#order-progress")).to_contain_text("Done: 2 of 2",
                                                            timeout=120_000)
    expect(page.locator('#order-records img')).to_have_count(2)
    shots.take(page, "order")

    # The picker: approve the first image with the keyboard.
    page.get_by_role("link", name="Review in the image picker").click()
    expect(page.locator("#stage-image")).to_have_attribute("src", re.compile("/media/"))
    first = page.locator("#strip .thumb").first
    approved_id = first.get_attribute("data-id")
    page.keyboard.press("a")
    expect(page.locator("#picker-live")).to_contain_text("Approved")
    expect(first).to_have_attribute("data-voting", "APPROVED")
    expect(page.locator("#stage-position")).to_have_text("2 of 2")
    # R rejects the second; Z takes that back.
    page.keyboard.press("r")
    expect(page.locator("#strip .thumb").nth(1)).to_have_attribute("data-voting",
                                                                    "REJECTED")
    page.keyboard.press("z")
    expect(page.locator("#strip .thumb").nth(1)).to_have_attribute("data-voting", "")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#stage-status")).to_have_text("Approved")
    shots.take(page, "picker")
    with runtime.db.session() as session:
        votes = dict(session.execute(
            select(Record.id, Record.voting).where(Record.kind == "image")).all())
    assert votes[approved_id] == "APPROVED" and sorted(
        v or "" for v in votes.values()) == ["", "APPROVED"]

    with page.expect_download() as info:
        page.get_by_role("link", name="Download approved (ZIP)").click()
    archive = Path(info.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        (name,) = zipped.namelist()
        picture = np.asarray(Image.open(io.BytesIO(zipped.read(name))))
    assert name.endswith(f"_{approved_id}.jpg")
    with runtime.db.session() as session:
        key = session.get(Record, approved_id).image_key
    stored = np.asarray(Image.open(io.BytesIO(runtime.storage.get(key))).convert("RGB"))
    assert picture.shape == stored.shape and picture.shape[0] >= 512
    assert np.abs(picture.astype(int) - stored.astype(int)).mean() < 2.0

    # An API key: shown once, works against the API, then revoked.
    page.goto("/settings/keys")
    page.get_by_label("Name").fill("storefront sync")
    page.get_by_role("button", name="Generate key").click()
    raw = page.locator("#new-key").inner_text().strip()
    assert raw.startswith("mk_live_")
    shots.take(page, "keys", phone=False, mask=[page.locator("#new-key")])
    secret = raw.split(".", 1)[1]
    api = httpx.Client(base_url=f"{web.url}/api/external", headers={"X-Api-Key": raw})
    listed = api.get("/image-picker")
    assert listed.status_code == 200 and len(listed.json()["images"]) == 2

    page.goto("/settings/keys")
    assert secret not in page.content()
    page.get_by_role("button", name=re.compile("Revoke key")).click()
    expect(page.locator("table")).to_contain_text("Revoked")
    assert api.get("/image-picker").status_code == 401
    api.close()

    page.goto("/settings/credits")
    expect(page.locator("#credit-balance")).to_have_text("930")
    shots.take(page, "credits")
    page.goto("/settings/members")
    shots.take(page, "members")
    page.goto("/presets")
    shots.take(page, "presets", phone=False)

    # The secret is in no page since, in no table, in no log line.
    with runtime.db.session() as session:
        for table in ("api_keys", "users", "teams"):
            rows = session.execute(text(f"SELECT * FROM {table}")).all()
            assert secret not in repr(rows)
    captured = capfd.readouterr()
    assert secret not in captured.out and secret not in captured.err
    shots.phone.close()
    context.close()
