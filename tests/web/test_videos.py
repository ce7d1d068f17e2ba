"""The workspace's videos: made from the picker, listed with playback, voted on.

Source images are drawn here and stored the way a photo shoot stores its results
(a DONE ``image`` record with background and foreground layers). One video
renders with the built-in provider at its full size; the reels render through a
small ``mini`` provider (1 s, 10 fps, long side 320), which also makes the forms
offer a choice of provider.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import REQUIRE_SERVICES, wait_for
from PIL import Image
from sqlalchemy import func, select

from lightbox.credits import service as credits
from lightbox.db import utcnow
from lightbox.engine import imageio
from lightbox.generation.models import DONE, Order, Record
from lightbox.ids import new_id
from lightbox.media import renditions
from lightbox.videos.providers import (
    BuiltinProvider,
    register_provider,
    unregister_provider,
)

RENDER_WAIT = 90  # s: a full-HD video takes 5-10 s, longer on a loaded machine
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-quic"]
REPO = Path(__file__).resolve().parents[2]
_VIDEO_TAG = re.compile(
    r'<video controls playsinline preload="metadata" poster="([^"]+)" src="([^"]+)"')


def _scene(seed: int, colour: tuple[int, int, int], size=(480, 600)):
    """A bottle on a lit wall: (photo, background RGB, foreground RGBA)."""
    width, height = size
    rng = np.random.default_rng([seed, 0x71DE0])
    ramp = np.linspace(1.0, 0.7, height, dtype=np.float32)[:, None, None]
    wall = np.array((228, 218, 202), np.float32) * ramp
    grain = rng.normal(0, 3, (height, width, 1)).astype(np.float32)
    background = np.clip(wall + grain, 0, 255).astype(np.uint8)
    cv2.rectangle(background, (0, int(height * 0.8)), (width, height),
                  (170, 150, 128), -1)

    foreground = np.zeros((height, width, 4), np.uint8)
    cx, body = width // 2, width // 5
    top, bottom = int(height * 0.42), int(height * 0.84)
    cv2.rectangle(foreground, (cx - body, top), (cx + body, bottom), (*colour, 255), -1)
    cv2.ellipse(foreground, (cx, top), (body, body // 2), 0, 180, 360,
                (*colour, 255), -1)
    cv2.rectangle(foreground, (cx - body // 3, int(height * 0.28)),
                  (cx + body // 3, top), (*colour, 255), -1)
    cv2.rectangle(foreground, (cx - body, int(height * 0.58)),
                  (cx + body, int(height * 0.68)), (242, 236, 220, 255), -1)

    alpha = foreground[..., 3:].astype(np.float32) / 255.0
    photo = foreground[..., :3] * alpha + background * (1.0 - alpha)
    return np.round(photo).astype(np.uint8), background, foreground


def _shoot_image(runtime, team_id: str, *, seed: int, name: str,
                 colour=(200, 40, 45)) -> str:
    """A DONE photo-shoot image of the team, stored as the shoot renderer does."""
    photo, background, foreground = _scene(seed, colour)
    record_id = new_id("img")
    prefix = f"teams/{team_id}/records/{record_id}"
    storage = runtime.storage
    stored = renditions.store_image(storage, prefix=f"{prefix}/image", image=photo)
    layers = {
        "background": renditions.store_bytes(
            storage, f"{prefix}/background.jpg",
            imageio.encode_jpeg(background, quality=92), "image/jpeg"),
        "foreground": renditions.store_bytes(
            storage, f"{prefix}/foreground.png", imageio.encode_png(foreground),
            "image/png"),
    }
    with runtime.db.session() as session:
        session.add(Record(
            id=record_id, team_id=team_id, order_id=None, kind="image", name=name,
            status=DONE, product_id=None, params={}, price=0, image_key=stored.key,
            thumb_key=stored.thumb_key, layers=layers, meta={}, settled=True,
            created_at=utcnow(),
        ))
    return record_id


@pytest.fixture
def mini():
    provider = BuiltinProvider(name="mini", seconds=1.0, fps=10, max_side=320)
    register_provider("mini", lambda settings: provider)
    yield provider
    unregister_provider("mini")


def _rival(browser, runtime, *, credits_given: int = 100):
    """A second team with its owner signed in: (browser, team id)."""
    from lightbox.accounts import service as accounts

    with runtime.db.session() as session:
        team = accounts.create_team(session, name="Rival")
        accounts.create_user(session, team_id=team.id, email="eve@rival.test",
                             password="rival password 1", role="owner")
        credits.grant(session, team_id=team.id, amount=credits_given, note="test")
        team_id = team.id
    e = browser()
    e.get("/signin")
    signed = e.post("/signin", {"email": "eve@rival.test",
                                "password": "rival password 1"})
    assert signed.status_code == 303
    return e, team_id


def _card(b, record_id: str) -> str:
    response = b.get(f"/videos/{record_id}/card")
    assert response.status_code == 200, response.text
    return response.text


def _finished(b, record_id: str) -> str:
    wait_for(lambda: 'data-status="INPROGRESS"' not in _card(b, record_id),
             timeout=RENDER_WAIT, interval=0.5)
    card = _card(b, record_id)
    assert 'data-status="DONE"' in card, card
    assert "hx-trigger" not in card  # a finished card stops polling
    return card


def _mp4(b, card: str) -> tuple[bytes, bytes]:
    """The card's MP4 and poster, fetched as the browser would."""
    poster_url, video_url = _VIDEO_TAG.search(card).groups()
    video = b.client.get(video_url.replace("&amp;", "&"))
    poster = b.client.get(poster_url.replace("&amp;", "&"))
    assert video.status_code == 200 and poster.status_code == 200
    return video.content, poster.content


def _decode(data: bytes) -> tuple[list[np.ndarray], int, int]:
    with av.open(io.BytesIO(data)) as box:
        stream = box.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in box.decode(stream)]
        return frames, stream.codec_context.width, stream.codec_context.height


def _orders(runtime, team_id: str) -> int:
    with runtime.db.session() as session:
        return session.scalar(select(func.count()).select_from(Order)
                              .where(Order.team_id == team_id))


def test_video_from_the_picker_renders_plays_and_is_voted(web, browser, signup,
                                                          runtime):
    b = browser()
    team_id = signup(b, team="Acme", email="ann@acme.test", credits=100)
    image_id = _shoot_image(runtime, team_id, seed=1, name="Red Bottle — Variant 1")

    picker = b.get("/picker").text
    assert f'data-id="{image_id}"' in picker and 'id="make-video"' in picker
    assert 'href="/reels/new"' in picker

    form = b.get(f"/videos/new?image={image_id}")
    assert form.status_code == 200
    assert "<title>Make a video · Lightbox</title>" in form.text
    assert 'alt="Source image: Red Bottle — Variant 1"' in form.text
    for hint in ("push in", "pan left", "orbit", "pull out", "square", "landscape"):
        assert f'data-hint="{hint}"' in form.text
    assert 'name="provider"' not in form.text  # one provider: nothing to choose
    assert "10 credits" in form.text and "Available: 100 credits" in form.text

    refused = b.post("/videos/new", {"image": image_id}, csrf=False)
    assert refused.status_code == 403 and "Traceback" not in refused.text
    too_long = b.post("/videos/new", {"image": image_id, "suggestion": "x" * 3000})
    assert too_long.status_code == 400
    assert 'id="suggestion-error"' in too_long.text
    assert "suggestion: must be a string of at most" in too_long.text
    assert _orders(runtime, team_id) == 0

    ordered = b.post("/videos/new", {"image": image_id, "suggestion": "push in"})
    assert ordered.status_code == 303, ordered.text
    record_id = ordered.headers["location"].split("new=", 1)[1]
    listing = b.get(ordered.headers["location"]).text
    assert "<title>Videos · Lightbox</title>" in listing
    assert f'id="video-{record_id}"' in listing
    if 'data-status="INPROGRESS"' in listing:  # it may finish before we look
        assert f'hx-get="/videos/{record_id}/card?shown=all&amp;poll=1"' in listing
        assert 'hx-trigger="every 1.5s"' in listing
    # Polls swap nothing (204) until the video is done.
    polled = b.get(f"/videos/{record_id}/card?poll=1")
    if polled.status_code == 204:
        assert polled.content == b""
    else:  # finished already: then the whole card comes back
        assert polled.status_code == 200 and 'data-status="DONE"' in polled.text

    card = _finished(b, record_id)
    assert 'data-status="DONE"' in b.get(f"/videos/{record_id}/card?poll=1").text
    video, poster = _mp4(b, card)
    assert video[4:8] == b"ftyp"
    frames, width, height = _decode(video)
    assert (width, height) == (1080, 1350)  # a 4:5 photo keeps its shape
    assert len(frames) >= 100 and np.abs(
        frames[-1].astype(int) - frames[0].astype(int)).mean() > 1.0
    assert np.asarray(Image.open(io.BytesIO(poster))).std() > 5
    assert "“push in”" in card and "1080×1350" in card
    with runtime.db.session() as session:
        assert credits.summary(session, team_id=team_id).balance == 90

    # Votes: htmx gets the card back; the filters follow.
    htmx = {"HX-Request": "true", "X-CSRF-Token": b.csrf}
    approved = b.client.post(f"/videos/{record_id}/vote", headers=htmx,
                             data={"voting": "APPROVED", "shown": "all"})
    assert approved.status_code == 200 and "badge-good" in approved.text
    assert 'value="NONE"' in approved.text  # undo offered
    assert f'id="video-{record_id}"' in b.get("/videos?shown=approved").text
    rejected = b.post(f"/videos/{record_id}/vote", {"voting": "REJECTED"})
    assert rejected.status_code == 303
    assert f'id="video-{record_id}"' not in b.get("/videos").text
    assert f'id="video-{record_id}"' in b.get("/videos?shown=rejected").text
    assert b.post(f"/videos/{record_id}/vote", {"voting": "NONE"}).status_code == 303
    assert f'id="video-{record_id}"' in b.get("/videos").text

    # Another team sees none of it.
    other, _ = _rival(browser, runtime)
    assert record_id not in other.get("/videos").text
    assert other.get(f"/videos/{record_id}/card").status_code == 404
    assert other.post(f"/videos/{record_id}/vote",
                      {"voting": "APPROVED"}).status_code == 404
    foreign = other.get(f"/videos/new?image={image_id}")
    assert foreign.status_code == 404 and "Page not found" in foreign.text
    stolen = other.post("/videos/new", {"image": image_id})
    assert stolen.status_code == 404 and "Image not found" in stolen.text
    assert "Traceback" not in stolen.text


def test_reel_of_two_images_and_its_errors(web, browser, signup, runtime, mini):
    b = browser()
    team_id = signup(b, team="Acme", email="ann@acme.test", credits=25)
    first = _shoot_image(runtime, team_id, seed=2, name="Red Bottle — Variant 1")
    second = _shoot_image(runtime, team_id, seed=3, name="Teal Bottle — Variant 1",
                          colour=(20, 130, 140))
    third = _shoot_image(runtime, team_id, seed=4, name="Amber Bottle — Variant 1",
                         colour=(190, 110, 30))
    other, other_team = _rival(browser, runtime)
    foreign = _shoot_image(runtime, other_team, seed=5, name="Theirs")
    with runtime.db.session() as session:
        session.get(Record, second).voting = "APPROVED"

    form = b.get("/reels/new")
    assert form.status_code == 200
    assert "<title>Make a reel · Lightbox</title>" in form.text
    boxes = re.findall(r'type="checkbox" name="image_ids" value="([^"]+)"( checked)?',
                       form.text)
    assert dict(boxes) == {first: "", second: " checked", third: ""}
    assert foreign not in form.text
    for hint in ("slide", "wipe", "square"):
        assert f'data-hint="{hint}"' in form.text
    assert '<option value="mini"' in form.text  # two providers: a choice
    cost = b.get("/reels/cost", params=[("image_ids", first), ("image_ids", second)])
    assert "2 × 10 = 20 credits" in cost.text and "Available: 25 credits" in cost.text
    assert "Not enough credits" in b.get(
        "/reels/cost", params=[("image_ids", i) for i in (first, second, third)]).text

    def post(ids, **extra):
        return b.post("/reels/new", {"image_ids": ids, **extra})

    one = post([first])
    assert one.status_code == 400 and 'id="images-error"' in one.text
    assert "imageIds: must be a list of 2 to 20 image ids" in one.text
    theirs = post([first, foreign])
    assert theirs.status_code == 404 and "Image not found: imageIds[1]" in theirs.text
    unknown = post([first, second], provider="nope")
    assert unknown.status_code == 400 and 'id="provider-error"' in unknown.text
    assert "configured: builtin, mini" in unknown.text
    broke = post([first, second, third])
    assert broke.status_code == 402 and 'id="confirm-error"' in broke.text
    refused = b.client.post("/reels/new", data={"image_ids": [first, second]})
    assert refused.status_code == 403
    assert _orders(runtime, team_id) == 0

    made = post([second, first], suggestion="slide", provider="mini")
    assert made.status_code == 303, made.text
    record_id = made.headers["location"].split("new=", 1)[1]
    with runtime.db.session() as session:
        record = session.get(Record, record_id)
        assert record.kind == "reel" and record.price == 20
        assert record.params["source_ids"] == [second, first]
        assert record.params["provider"] == "mini"

    card = _finished(b, record_id)
    video, _ = _mp4(b, card)
    assert video[4:8] == b"ftyp"
    frames, width, height = _decode(video)
    assert (width, height) == (180, 320)  # 9:16, scaled down by the provider
    # Teal first, then red: the order posted is the order played.
    centre = (slice(height // 2 - 20, height // 2 + 20),
              slice(width // 2 - 10, width // 2 + 10))
    red, _, blue = frames[0][centre].reshape(-1, 3).mean(axis=0)
    assert blue > red + 40
    red, _, blue = frames[-1][centre].reshape(-1, 3).mean(axis=0)
    assert red > blue + 40
    assert "Reel of 2 images" in card

    # A reel that failed (its source deleted mid-way) says so, with no player
    # and nothing to approve, but it can be rejected out of the list.
    failed_id = new_id("vid")
    with runtime.db.session() as session:
        session.add(Record(
            id=failed_id, team_id=team_id, order_id=None, kind="reel",
            name="Amber Bottle — Reel of 2 images", status="FAILED", price=20,
            params={"source_ids": [third, first], "suggestion": "wipe"},
            error="Source image 1 of this video is gone.", layers={}, meta={},
            settled=True, created_at=utcnow(),
        ))
    failed = _card(b, failed_id)
    assert "Source image 1 of this video is gone." in failed
    assert "<video" not in failed and "hx-trigger" not in failed
    assert 'value="APPROVED"' not in failed and 'value="REJECTED"' in failed
    assert record_id not in other.get("/videos").text
    assert other.get(f"/reels/new?image={first}&image={second}").text.count(
        'type="checkbox"') == 1  # only their own image is offered


def _screenshot_dir() -> Path:
    folder = Path(os.environ.get("LIGHTBOX_SCREENSHOTS")
                  or REPO / "artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _metadata(video) -> list[int]:
    """Wait until the browser has read the MP4's header and fetched what it
    buffers up front (its spinner gone); the video's [width, height]."""
    wait_for(lambda: video.evaluate(
        "v => v.readyState >= 1 && v.networkState !== v.NETWORK_LOADING"),
        timeout=RENDER_WAIT, interval=0.25)
    return video.evaluate("v => [v.videoWidth, v.videoHeight]")


@pytest.mark.browser
@pytest.mark.slow
def test_reel_form_in_a_browser_plays_on_the_videos_page(web, browser, signup,
                                                         runtime, mini):
    if not os.path.exists(CHROMIUM):
        if REQUIRE_SERVICES:
            pytest.fail(f"{CHROMIUM} is missing (LIGHTBOX_REQUIRE_SERVICES=1)")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import expect, sync_playwright

    b = browser()
    team_id = signup(b, team="Northwind Goods", email="owner@northwind.test",
                     credits=500)
    names = ["Red Bottle", "Teal Bottle", "Amber Bottle"]
    colours = [(200, 40, 45), (20, 130, 140), (190, 110, 30)]
    ids = [_shoot_image(runtime, team_id, seed=10 + i, name=f"{n} — Variant 1",
                        colour=c) for i, (n, c) in enumerate(zip(names, colours))]
    cookie = b.client.cookies.get("lightbox_session")

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = chromium.new_context(viewport={"width": 1280, "height": 800},
                                       device_scale_factor=1, base_url=web.url)
        context.add_cookies([{"name": "lightbox_session", "value": cookie,
                              "url": web.url}])
        context.set_default_timeout(RENDER_WAIT * 1000)
        expect.set_options(timeout=RENDER_WAIT * 1000)
        page = context.new_page()

        # From the picker: the amber bottle, then the red one, then swap them.
        page.goto("/picker")
        page.get_by_role("link", name="Make a reel").click()
        expect(page).to_have_title("Make a reel · Lightbox")
        page.locator("label.pick", has_text="Amber Bottle").click()
        page.locator("label.pick", has_text="Red Bottle").click()
        expect(page.locator("#reel-cost")).to_contain_text("2 × 10 = 20 credits")
        order = page.locator("#reel-order li .reel-name")
        expect(order).to_have_text(["Amber Bottle — Variant 1",
                                    "Red Bottle — Variant 1"])
        page.get_by_role("button", name="Move Red Bottle — Variant 1 earlier").click()
        expect(order).to_have_text(["Red Bottle — Variant 1",
                                    "Amber Bottle — Variant 1"])
        page.get_by_role("button", name="slide").click()
        expect(page.get_by_label(re.compile("^Suggestion"))).to_have_value("slide")
        page.get_by_label("Rendered by").select_option("mini")
        page.evaluate("window.scrollTo(0, 0)")
        folder = _screenshot_dir()
        page.screenshot(path=str(folder / "reel-desktop.png"))
        page.get_by_role("button", name="Confirm and make the reel").click()
        expect(page).to_have_url(re.compile(r"/videos\?new=vid_"))

        # And a video of the teal bottle, from the picker's current image.
        page.goto("/picker")
        page.locator(f'#strip .thumb[data-id="{ids[1]}"]').click()
        expect(page.locator("#stage-name")).to_have_text("Teal Bottle — Variant 1")
        page.get_by_role("link", name="Make a video").click()
        expect(page).to_have_title("Make a video · Lightbox")
        expect(page.get_by_alt_text("Source image: Teal Bottle — Variant 1")
               ).to_be_visible()
        page.get_by_role("button", name="orbit").click()
        page.get_by_role("button", name="square").click()
        expect(page.get_by_label(re.compile("^Suggestion"))).to_have_value(
            "orbit, square")
        page.get_by_role("button", name="orbit").click()  # a second press takes it out
        expect(page.get_by_label(re.compile("^Suggestion"))).to_have_value("square")
        expect(page.get_by_role("button", name="square")).to_have_attribute(
            "aria-pressed", "true")
        page.get_by_label("Rendered by").select_option("mini")
        page.screenshot(path=str(folder / "video-new-desktop.png"))
        page.get_by_role("button", name="Confirm and make the video").click()

        # The videos page fills in by itself, and the browser can play the MP4.
        expect(page).to_have_url(re.compile(r"/videos\?new=vid_"))
        videos = page.locator("#video-list video")
        expect(videos).to_have_count(2)
        sizes = [_metadata(videos.nth(i)) for i in range(2)]
        assert sizes == [[320, 320], [180, 320]]  # the square video, then the reel
        with runtime.db.session() as session:
            reel = session.scalar(select(Record).where(Record.kind == "reel"))
            assert reel.params["source_ids"] == [ids[0], ids[2]]
            video = session.scalar(select(Record).where(Record.kind == "video"))
            assert video.params["source_ids"] == [ids[1]]
            assert video.params["suggestion"] == "square"
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(1000)  # Chromium's loading spinner fades out
        page.screenshot(path=str(folder / "videos-desktop.png"))
        # A vote swaps only its own card: the other video element stays as it was.
        videos.first.evaluate("v => { v.dataset.mark = 'kept'; }")
        reel_card = page.locator("#video-list > li").nth(1)
        reel_card.get_by_role("button", name=re.compile("^Approve")).click()
        expect(reel_card.locator(".badge")).to_have_text("Approved")
        undo = reel_card.get_by_role("button", name=re.compile("^Undo"))
        expect(undo).to_be_focused()
        assert videos.first.evaluate("v => v.dataset.mark") == "kept"
        with runtime.db.session() as session:
            assert session.get(Record, reel.id).voting == "APPROVED"

        phone = chromium.new_context(viewport={"width": 390, "height": 844},
                                     device_scale_factor=1, base_url=web.url)
        phone.add_cookies([{"name": "lightbox_session", "value": cookie,
                            "url": web.url}])
        phone_page = phone.new_page()
        phone_page.goto("/videos")
        _metadata(phone_page.locator("video").first)
        phone_page.wait_for_timeout(1000)
        phone_page.screenshot(path=str(folder / "videos-phone.png"))
        phone_page.goto(f"/reels/new?image={ids[2]}&image={ids[0]}")
        expect(phone_page.locator("#reel-order li")).to_have_count(2)
        phone_page.screenshot(path=str(folder / "reel-phone.png"), full_page=True)
        phone.close()
        context.close()
        chromium.close()
