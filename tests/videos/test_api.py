"""The video endpoints over real HTTP: errors, orders, rendering, serving, voting.

Renders run on the live server's consumer threads. Most tests order through the
small ``mini`` provider; one orders a real photo shoot and its default video
(5 s, 30 fps, full HD) end to end.
"""

from __future__ import annotations

import itertools
import re

import httpx
import numpy as np
import pytest
from conftest import wait_for
from factories import image_bytes
from sqlalchemy import func, select

from lightbox.engine import imageio
from lightbox.generation.models import FAILED, INPROGRESS, Order, Record
from lightbox.videos import render as video_render

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def video_list(team, status_filter: str | None = None) -> list[dict]:
    params = {"statusFilter": status_filter} if status_filter else {}
    reply = team.client.get("/videos", params=params)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["count"] == len(body["videos"])
    return body["videos"]


def finished(team, record_id: str, *, timeout: float = 30.0) -> dict:
    def done():
        items = [v for v in video_list(team) if v["id"] == record_id]
        return items and items[0]["status"] != INPROGRESS and items[0]

    item = wait_for(done, timeout=timeout)
    assert item["status"] == "DONE", item
    return item


def moved(frames) -> list[float]:
    """Share of pixels changed by more than 8 levels, frame to frame."""
    return [float((np.abs(a.astype(np.int16) - b).max(axis=2) > 8).mean())
            for a, b in itertools.pairwise(frames)]


def orders_of(team) -> int:
    with team.session() as session:
        return session.scalar(select(func.count()).select_from(Order)
                              .where(Order.team_id == team.team_id))


class TestErrors:
    def test_bad_bodies_unknown_ids_and_credits_reserve_nothing(
        self, make_team, make_source
    ):
        team, other = make_team(), make_team()
        good = make_source(team.team_id).id
        second = make_source(team.team_id, kind="packshot", layered=False).id
        foreign = make_source(other.team_id).id
        pending = make_source(team.team_id, status=INPROGRESS).id
        failed = make_source(team.team_id, status=FAILED).id
        scenery = make_source(team.team_id, kind="scenery").id
        ids = [f"img_{i:022d}" for i in range(21)]

        video_cases = [
            ([good], 400, "body: must be a JSON object"),
            ({}, 400, "imageId: required (or generatedImageId)"),
            ({"imageId": None}, 400, "imageId: required (or generatedImageId)"),
            ({"imageId": 5}, 400, "imageId: must be a non-empty string"),
            ({"generatedImageId": " "}, 400,
             "generatedImageId: must be a non-empty string"),
            ({"imageId": good, "generatedImageId": second}, 400,
             "generatedImageId: differs from imageId; send one of them"),
            ({"imageId": good, "suggestion": ["pan"]}, 400,
             "suggestion: must be a string"),
            ({"imageId": good, "seed": 1.5}, 400,
             "seed: must be an integer between 0 and 9007199254740991"),
            # The provider is part of the body: a 400 before any id's 404.
            ({"imageId": "img_nope", "provider": "runway"}, 400,
             "provider: unknown provider 'runway'; configured: builtin"),
            ({"imageId": "img_nope"}, 404, "Image not found: imageId"),
            ({"generatedImageId": foreign}, 404,
             "Image not found: generatedImageId"),
            ({"imageId": pending}, 404, "Image not found: imageId"),
            ({"imageId": failed}, 404, "Image not found: imageId"),
            ({"imageId": scenery}, 404, "Image not found: imageId"),
        ]
        for body, status, message in video_cases:
            reply = team.client.post("/video-picker/register-videos", json=body)
            assert (reply.status_code, reply.json()) == (status, {"error": message})

        few = "imageIds: must be a list of 2 to 20 image ids"
        reel_cases = [
            ({}, 400, "imageIds: required"),
            ({"imageIds": [good]}, 400, few),
            ({"imageIds": ids}, 400, few),  # 21
            ({"imageIds": good}, 400, few),
            ({"imageIds": [good, 7]}, 400, "imageIds[1]: must be a non-empty string"),
            ({"imageIds": [good, second, good]}, 400,
             "imageIds[2]: duplicate of imageIds[0]"),
            ({"imageIds": [good, second], "provider": "x"}, 400,
             "provider: unknown provider 'x'; configured: builtin"),
            ({"imageIds": [good, "img_nope"]}, 404, "Image not found: imageIds[1]"),
            ({"imageIds": [good, second, foreign]}, 404,
             "Image not found: imageIds[2]"),
            ({"imageIds": ids[:20]}, 404, "Image not found: imageIds[0]"),
        ]
        for body, status, message in reel_cases:
            reply = team.client.post("/video-picker/register-reel", json=body)
            assert (reply.status_code, reply.json()) == (status, {"error": message})

        assert team.client.get("/credits").json()["available"] == 1000
        assert video_list(team) == []
        assert orders_of(team) == 0

    def test_ids_are_checked_before_credits(self, make_team, make_source):
        team = make_team(credits=25)
        ids = [make_source(team.team_id, seed=i).id for i in range(3)]

        reply = team.client.post("/video-picker/register-reel",
                                 json={"imageIds": [*ids, "img_nope"]})
        assert reply.status_code == 404
        reply = team.client.post("/video-picker/register-reel",
                                 json={"imageIds": ids})
        assert (reply.status_code, reply.json()) == (402, {
            "error": "Insufficient credits. Required: 30, available: 25."})

        credits = team.client.get("/credits").json()
        assert (credits["available"], credits["reserved"]) == (25, 0)
        assert orders_of(team) == 0 and video_list(team) == []


class TestVideo:
    def test_order_render_serve_and_vote(self, make_team, make_source, mini,
                                         decode_mp4):
        team = make_team()
        source = make_source(team.team_id)
        reply = team.client.post(
            "/video-picker/register-videos",
            json={"generatedImageId": source.id, "suggestion": "slow push in",
                  "provider": "mini", "unknownField": 1},
        )
        assert reply.status_code == 200, reply.text
        order = reply.json()
        assert set(order) == {"createdRecordIds", "batchId", "orderId",
                              "reservationId", "creditsReserved"}
        (video_id,) = order["createdRecordIds"]
        assert video_id.startswith("vid_")
        assert order["creditsReserved"] == 10

        # Listed at once; nothing to play before it is DONE.
        (listed,) = video_list(team)
        assert listed["id"] == video_id
        if listed["status"] == INPROGRESS:
            assert (listed["videoUrl"], listed["thumbnail"]) == ("", "")

        item = finished(team, video_id)
        assert item["name"] == "Red Bottle — Variant 1 — Video"
        assert item["kind"] == "video" and item["voting"] is None
        assert item["sourceImageIds"] == [source.id]
        assert TIMESTAMP.match(item["createdAt"])

        # The MP4 and the poster load without the API key, like an <img>.
        with httpx.Client(timeout=30) as browser:
            movie = browser.get(item["videoUrl"])
            assert movie.status_code == 200
            assert movie.headers["content-type"] == "video/mp4"
            frames, facts = decode_mp4(movie.content)
            assert (facts["width"], facts["height"], facts["rate"]) == (256, 320, 10)
            assert facts["seconds"] == pytest.approx(1.0, abs=0.01)
            assert min(moved(frames)) > 0.001

            # Browsers seek with Range requests.
            part = browser.get(item["videoUrl"], headers={"Range": "bytes=0-99"})
            assert part.status_code == 206
            assert part.content == movie.content[:100]
            assert part.headers["content-range"] == f"bytes 0-99/{len(movie.content)}"

            thumb = browser.get(item["thumbnail"])
            assert thumb.headers["content-type"] == "image/jpeg"
            assert thumb.content[:3] == b"\xff\xd8\xff"

        reply = team.client.get(f"/orders/{order['orderId']}")
        assert reply.json()["status"] == "DONE"
        assert reply.json()["creditsConsumed"] == 10
        assert team.client.get("/credits").json()["available"] == 990

        # Voting goes through the packshot endpoint, as for every record.
        for voting, lists in (("APPROVED", (1, 1, 0)), ("REJECTED", (0, 0, 1))):
            reply = team.client.post("/packshots/update-packshot",
                                     json={"recordId": video_id, "Voting": voting})
            assert reply.status_code == 200, reply.text
            counts = tuple(len(video_list(team, name))
                           for name in ("all", "approved", "rejected"))
            assert counts == lists

    def test_another_teams_videos_are_not_listed(self, make_team, make_source,
                                                 mini):
        team, other = make_team(), make_team()
        source = make_source(team.team_id)
        # Both spellings of the field may come together when they agree.
        reply = team.client.post("/video-picker/register-videos", json={
            "imageId": source.id, "generatedImageId": source.id, "provider": "mini"})
        assert reply.status_code == 200, reply.text
        assert len(video_list(team)) == 1
        assert video_list(other) == []

    def test_a_retried_order_with_an_idempotency_key_is_one_order(
        self, make_team, make_source, mini
    ):
        team = make_team()
        body = {"imageIds": [make_source(team.team_id, seed=i).id for i in range(2)],
                "provider": "mini"}
        headers = {"Idempotency-Key": "reel-1"}
        first = team.client.post("/video-picker/register-reel", json=body,
                                 headers=headers)
        again = team.client.post("/video-picker/register-reel", json=body,
                                 headers=headers)
        assert first.status_code == again.status_code == 200
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert orders_of(team) == 1
        assert team.client.get("/credits").json()["available"] == 980

    def test_lists_page_with_a_cursor(self, make_team, make_source, mini):
        team = make_team()
        source = make_source(team.team_id)
        made = [
            team.client.post("/video-picker/register-videos",
                             json={"imageId": source.id, "provider": "mini"}
                             ).json()["createdRecordIds"][0]
            for _ in range(3)
        ]
        first = team.client.get("/videos", params={"limit": 2}).json()
        assert [v["id"] for v in first["videos"]] == made[::-1][:2]
        rest = team.client.get("/videos", params={"limit": 2,
                                                  "cursor": first["nextCursor"]})
        assert [v["id"] for v in rest.json()["videos"]] == made[:1]
        assert "nextCursor" not in rest.json()
        reply = team.client.get("/videos", params={"statusFilter": "new"})
        assert reply.status_code == 400


class TestReel:
    def test_a_reel_of_three_images(self, make_team, make_source, mini, decode_mp4):
        team = make_team()
        ids = [make_source(team.team_id, seed=1).id,
               make_source(team.team_id, kind="packshot", layered=False).id,
               make_source(team.team_id, seed=2).id]
        reply = team.client.post(
            "/video-picker/register-reel",
            json={"imageIds": ids, "suggestion": "wipe", "provider": "mini"},
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["creditsReserved"] == 30

        item = finished(team, reply.json()["createdRecordIds"][0])
        assert item["kind"] == "reel"
        assert item["name"] == "Red Bottle — Reel of 3 images"
        assert item["sourceImageIds"] == ids
        frames, facts = decode_mp4(httpx.get(item["videoUrl"]).content)
        assert (facts["width"], facts["height"]) == (180, 320)
        assert facts["seconds"] == pytest.approx(1.5, abs=0.01)
        assert min(moved(frames)) > 0.001
        assert team.client.get("/credits").json()["available"] == 970


@pytest.mark.slow
def test_a_photo_shoot_becomes_a_full_hd_video(api, runtime, decode_mp4):
    """The real thing: product upload, shoot, then the default 5 s video of it."""
    reply = api.client.post(
        "/products", files={"file": ("bottle.png", image_bytes(
            "PNG", size=(500, 500), alpha=True), "image/png")},
        data={"name": "Bottle"},
    )
    assert reply.status_code == 200, reply.text
    product_id = reply.json()["product"]["id"]
    reply = api.client.post("/image-picker/register-ideas", json={
        "config": {"product": {"id": product_id}, "seed": 5}, "count": 1})
    assert reply.status_code == 200, reply.text
    image_id = reply.json()["createdRecordIds"][0]

    def shot():
        images = api.client.get("/image-picker").json()["images"]
        return images[0]["status"] != INPROGRESS and images[0]
    assert wait_for(shot, timeout=60)["status"] == "DONE"

    reply = api.client.post("/video-picker/register-videos",
                            json={"imageId": image_id})
    assert reply.status_code == 200, reply.text
    item = finished(api, reply.json()["createdRecordIds"][0], timeout=120)

    # The shoot stored layers that match its image: the video has depth.
    with api.session() as session:
        source = session.get_one(Record, image_id)
    image, layers = video_render.load_still(runtime, source)
    assert layers is not None

    frames, facts = decode_mp4(httpx.get(item["videoUrl"], timeout=30).content)
    assert (facts["width"], facts["height"]) == video_render.video_size(image.shape)
    assert facts["rate"] == 30 and len(frames) == 150
    assert facts["seconds"] == pytest.approx(5.0, abs=0.01)
    # Every frame differs from the one before (the move eases in, so the first
    # steps are sub-pixel), and the move is plain to see second by second.
    assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(frames))
    assert min(moved(frames[::30])) > 0.01

    # The product keeps its colour: pixels of the product's own colour cover a
    # similar share of each frame as of the photo.
    product = layers[1][..., 3] > 250
    colour = np.median(image[product], axis=0)

    def share(rgb):
        return float((np.abs(rgb.astype(np.int16) - colour).max(axis=2) < 30).mean())

    still = share(image)
    assert all(share(frame) > 0.5 * still for frame in frames[::10])
    # The poster (imageUrl) is a frame of the video, at its size.
    poster = httpx.get(item["imageUrl"], timeout=30)
    assert poster.headers["content-type"] == "image/jpeg"
    height, width = imageio.load_image(poster.content).shape[:2]
    assert (width, height) == (facts["width"], facts["height"])
