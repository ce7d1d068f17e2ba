"""Video and reel records rendered by the real task, decoded back with PyAV.

Orders go through ``videos.service`` and render through
``generation.tasks.render_record`` called directly (no consumer threads), with
the small ``mini`` provider so each render takes well under a second. Formats
and the provider registry are checked as plain functions.
"""

from __future__ import annotations

import itertools
import time
import tracemalloc

import numpy as np
import pytest

from lightbox.accounts import service as accounts
from lightbox.credits import service as credits
from lightbox.errors import BadRequest
from lightbox.generation import tasks
from lightbox.generation.models import DONE, FAILED, Record
from lightbox.media import renditions
from lightbox.migrate import upgrade
from lightbox.videos import render as video_render
from lightbox.videos import service
from lightbox.videos.providers import (
    BuiltinProvider,
    get_provider,
    reel_seconds_per_image,
    register_provider,
    unregister_provider,
)
from lightbox.videos.schemas import ReelRequest, VideoRequest


@pytest.fixture
def team(runtime):
    upgrade(runtime.db)
    with runtime.db.session() as session:
        team_id = accounts.create_team(session, name="Videos").id
        credits.grant(session, team_id=team_id, amount=1000)
    return team_id


def order_video(runtime, team_id, image_id, *, suggestion="", provider="mini"):
    with runtime.db.session() as session:
        placed = service.register_video(
            session, team_id=team_id,
            request=VideoRequest(image_id=image_id, field="imageId",
                                 suggestion=suggestion, provider=provider, seed=7),
            provider=provider, price=10, queue=runtime.queue,
        )
        return placed.record.id


def order_reel(runtime, team_id, image_ids, *, suggestion="", provider="mini"):
    with runtime.db.session() as session:
        placed = service.register_reel(
            session, team_id=team_id,
            request=ReelRequest(image_ids=tuple(image_ids), suggestion=suggestion,
                                provider=provider, seed=3),
            provider=provider, price_per_image=10, queue=runtime.queue,
        )
        return placed.record.id


def rendered(runtime, record_id) -> Record:
    tasks.render_record(runtime, record_id)
    with runtime.db.session() as session:
        return session.get_one(Record, record_id)


def moved(frames) -> list[float]:
    """Per pair of consecutive frames, the share of pixels that changed visibly
    (more than 8 levels: well above H.264's noise on a still)."""
    return [float((np.abs(a.astype(np.int16) - b).max(axis=2) > 8).mean())
            for a, b in itertools.pairwise(frames)]


def available(runtime, team_id) -> int:
    with runtime.db.session() as session:
        return credits.summary(session, team_id=team_id).available


class TestFormats:
    @pytest.mark.parametrize(("shape", "size"), [
        ((600, 480), (1080, 1350)),  # 4:5 shoot
        ((1000, 1000), (1080, 1080)),
        ((1024, 1536), (1620, 1080)),  # 3:2 landscape
        ((900, 1600), (1920, 1080)),
        ((1920, 1080), (1080, 1920)),
        ((1536, 1024), (1080, 1620)),  # 2:3 portrait
    ])
    def test_a_video_keeps_its_image_shape(self, shape, size):
        assert video_render.video_size(shape) == size

    def test_words_and_ratios_in_the_suggestion_choose_the_format(self):
        assert video_render.video_size((600, 480), "square, slow push") == (1080, 1080)
        assert video_render.video_size((600, 480), "landscape pan") == (1920, 1080)
        assert video_render.video_size((1000, 1000), "for a 9:16 story") == (
            1080, 1920)
        assert video_render.video_size((1000, 1000), "in 4:5 please") == (1080, 1350)
        # "16:9" is not read as "6:9" or "1:1" as part of "11:1".
        assert video_render.video_size((1000, 1000), "16:9") == (1920, 1080)
        assert video_render.requested_format("ratio 11:10") is None

    def test_reels_are_vertical_unless_asked(self):
        assert video_render.reel_size("") == (1080, 1920)
        assert video_render.reel_size("slide, square") == (1080, 1080)
        assert video_render.reel_size("horizontal") == (1920, 1080)

    def test_long_reels_share_thirty_seconds(self):
        assert reel_seconds_per_image(2) == 2.5
        assert reel_seconds_per_image(12) == 2.5
        assert reel_seconds_per_image(20) == 1.5


class TestProviders:
    def test_the_builtin_provider_is_the_default(self, settings):
        assert get_provider(settings, None).name == "builtin"
        assert get_provider(settings, "").name == "builtin"
        assert get_provider(settings, "builtin").name == "builtin"

    def test_unknown_and_unconfigured_providers_name_the_configured_ones(
        self, settings
    ):
        register_provider("hosted", lambda settings: None)  # no credentials
        try:
            for name in ("runway", "hosted"):
                with pytest.raises(BadRequest) as caught:
                    get_provider(settings, name)
                assert caught.value.message == (
                    f"provider: unknown provider '{name}'; configured: builtin"
                )
        finally:
            unregister_provider("hosted")

    def test_a_registered_provider_is_listed_and_used(self, settings, mini):
        assert get_provider(settings, "mini") is mini
        with pytest.raises(BadRequest, match="configured: builtin, mini$"):
            get_provider(settings, "nope")

    def test_sizes_scale_down_to_the_provider_and_stay_even(self):
        provider = BuiltinProvider(max_side=321)
        assert provider._fit((1080, 1350)) == (256, 320)
        assert provider._fit((1920, 1080)) == (320, 180)
        assert BuiltinProvider()._fit((1080, 1920)) == (1080, 1920)


class TestVideo:
    def test_a_layered_image_becomes_a_moving_mp4(
        self, runtime, team, make_source, mini, decode_mp4, red_mask,
        product_colour,
    ):
        source = make_source(team)
        before = available(runtime, team)
        record = rendered(runtime, order_video(runtime, team, source.id))

        assert record.status == DONE, record.error
        data = runtime.storage.get(record.layers["video"])
        frames, facts = decode_mp4(data)
        # 480x600 is 4:5: 1080x1350 scaled to the provider's long side of 320.
        assert facts["format"].startswith("mov,mp4")
        assert (facts["codec"], facts["pix_fmt"]) == ("h264", "yuv420p")
        assert (facts["width"], facts["height"]) == (256, 320)
        assert facts["rate"] == 10
        assert facts["seconds"] == pytest.approx(1.0, abs=0.01)
        assert len(frames) == 10
        # The moov index is at the front (+faststart): players start at once.
        assert data.find(b"moov") < data.find(b"mdat")

        # The camera moves: every frame differs from the one before.
        steps = moved(frames)
        assert min(steps) > 0.001, steps

        # The product stays recognisable: its red covers a similar share of
        # every frame as of the photo, in the same colour.
        share = red_mask(source.image).mean()
        for frame in frames:
            mask = red_mask(frame)
            assert mask.mean() > 0.5 * share
            colour = frame[mask].mean(axis=0)
            assert np.abs(colour - product_colour).max() < 20, colour

        # Poster and its thumbnail are stored JPEGs of the video's frame size.
        poster = renditions.load_image(runtime.storage, record.image_key)
        assert poster.shape == (320, 256, 3)
        assert record.image_key.endswith("/poster.jpg")
        assert red_mask(poster).mean() > 0.5 * share
        thumb = renditions.load_image(runtime.storage, record.thumb_key)
        assert thumb.shape[:2] == (320, 256)
        assert record.meta["video"] == {
            "provider": "mini", "seconds": 1.0, "fps": 10, "width": 256,
            "height": 320, "frames": 10, "bytes": len(data),
        }
        assert available(runtime, team) == before - 10

    def test_the_suggestion_steers_the_camera(self, runtime, team, make_source,
                                              mini, decode_mp4, red_mask):
        source = make_source(team)
        growth = {}
        for suggestion in ("slow push in", "pull out to reveal"):
            record = rendered(runtime, order_video(runtime, team, source.id,
                                                   suggestion=suggestion))
            frames, _ = decode_mp4(runtime.storage.get(record.layers["video"]))
            growth[suggestion] = red_mask(frames[-1]).mean() / red_mask(
                frames[0]).mean()
        # Pushing in, the product fills more of the frame; pulling out, less.
        assert growth["slow push in"] > 1.05, growth
        assert growth["pull out to reveal"] < 0.95, growth

    def test_the_shoot_layers_reach_the_provider(
        self, runtime, team, make_source, mini
    ):
        source = make_source(team)
        flat = make_source(team, layered=False)
        calls = []
        original = mini.render_video

        def spy(image, out, **kwargs):
            calls.append(kwargs["layers"])
            return original(image, out, **kwargs)

        mini.render_video = spy
        assert rendered(runtime, order_video(runtime, team, source.id)).status == DONE
        assert rendered(runtime, order_video(runtime, team, flat.id)).status == DONE

        background, foreground = calls[0]
        assert np.array_equal(foreground, source.foreground)  # PNG: lossless
        assert np.abs(background.astype(int) - source.background).mean() < 2
        assert calls[1] is None

    def test_nothing_to_play_before_done(self, runtime, team, make_source, mini):
        record_id = order_video(runtime, team, make_source(team).id)
        with runtime.db.session() as session:
            pending = service.video_json(session.get_one(Record, record_id),
                                         runtime.storage)
        assert (pending["status"], pending["videoUrl"], pending["thumbnail"]) == (
            "INPROGRESS", "", "")
        assert "imageUrl" not in pending

        done = service.video_json(rendered(runtime, record_id), runtime.storage)
        assert done["videoUrl"].startswith(runtime.settings.base_url + "/media/")
        assert "/video.mp4?" in done["videoUrl"]
        assert "/poster.thumb.jpg?" in done["thumbnail"]
        assert "/poster.jpg?" in done["imageUrl"]

    def test_same_seed_same_bytes(self, runtime, team, make_source, mini):
        source = make_source(team)
        first = rendered(runtime, order_video(runtime, team, source.id))
        second = rendered(runtime, order_video(runtime, team, source.id))
        storage = runtime.storage
        assert storage.get(first.layers["video"]) == storage.get(
            second.layers["video"])

    def test_a_source_gone_before_rendering_fails_and_releases(
        self, runtime, team, make_source, mini
    ):
        source = make_source(team)
        record_id = order_video(runtime, team, source.id)
        with runtime.db.session() as session:
            session.get_one(Record, source.id).status = FAILED
        before = available(runtime, team)

        record = rendered(runtime, record_id)
        assert record.status == FAILED
        assert record.error == "Source image 1 of this video is gone."
        assert available(runtime, team) == before + 10

    def test_a_provider_unconfigured_since_ordering_fails_and_releases(
        self, runtime, team, make_source
    ):
        source = make_source(team)
        register_provider("gone", lambda settings: BuiltinProvider(name="gone"))
        record_id = order_video(runtime, team, source.id, provider="gone")
        unregister_provider("gone")

        record = rendered(runtime, record_id)
        assert record.status == FAILED
        assert record.error == "The video provider 'gone' is no longer configured."
        assert record.attempts == 1  # permanent: not retried


class TestLease:
    def test_a_long_render_keeps_its_lease(self, runtime, team, make_source,
                                           mini):
        # A lease of 1 s (renewed every third of it) and a render of 2.5 s: without
        # renewal another worker could claim the record half way through.
        runtime.settings.lease_seconds = 1
        claims = []
        original = mini.render_video

        def slow(image, out, **kwargs):
            time.sleep(2.5)
            claims.append(tasks.claim(runtime, record_id))
            return original(image, out, **kwargs)

        mini.render_video = slow
        record_id = order_video(runtime, team, make_source(team).id)
        record = rendered(runtime, record_id)

        assert claims == [None]
        assert (record.status, record.attempts) == (DONE, 1)
        assert record.lease_token is None


class TestReel:
    def test_images_are_joined_into_one_vertical_reel(
        self, runtime, team, make_source, mini, decode_mp4, red_mask
    ):
        sources = [make_source(team, seed=1), make_source(team, seed=2),
                   make_source(team, kind="packshot", layered=False, seed=3)]
        record = rendered(runtime, order_reel(runtime, team,
                                              [s.id for s in sources]))

        assert record.status == DONE, record.error
        assert record.kind == "reel" and record.id.startswith("vid_")
        frames, facts = decode_mp4(runtime.storage.get(record.layers["video"]))
        # 3 images x 0.5 s (the mini provider's share) at 10 fps, 9:16.
        assert (facts["width"], facts["height"]) == (180, 320)
        assert facts["seconds"] == pytest.approx(1.5, abs=0.01)
        assert len(frames) == 15
        steps = moved(frames)
        assert min(steps) > 0.001, steps
        assert all(red_mask(frame).mean() > 0.02 for frame in frames)
        assert record.meta["video"]["frames"] == 15

    def test_a_square_reel_when_asked(self, runtime, team, make_source, mini,
                                      decode_mp4):
        ids = [make_source(team, seed=i).id for i in range(2)]
        record = rendered(runtime, order_reel(runtime, team, ids,
                                              suggestion="square, slide"))
        _, facts = decode_mp4(runtime.storage.get(record.layers["video"]))
        assert (facts["width"], facts["height"]) == (320, 320)

    def test_memory_does_not_grow_with_the_number_of_images(
        self, runtime, team, make_source, mini
    ):
        # Large stills (~12 MB each decoded with their layers): the reel holds
        # about three at a time from the third image on, so 3 and 7 images
        # peak alike; holding them all would add some 50 MB.
        ids = [make_source(team, size=(960, 1200), seed=i).id for i in range(7)]
        peaks = []
        for count in (3, 7):
            record_id = order_reel(runtime, team, ids[:count])
            tracemalloc.start()
            try:
                record = rendered(runtime, record_id)
                peaks.append(tracemalloc.get_traced_memory()[1])
            finally:
                tracemalloc.stop()
            assert record.status == DONE, record.error
        assert peaks[1] < peaks[0] + 6_000_000, peaks
