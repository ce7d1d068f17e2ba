"""Heavy renders on workers of their own (LIGHTBOX_HEAVY_QUEUE=1).

A worker started with ``--queue default`` renders packshots and never a video;
the video waits on ``<queue_name>-heavy`` until a ``--queue heavy`` worker runs.
"""

from __future__ import annotations

import time

import httpx
import pytest
from conftest import wait_for
from factories import image_bytes

from lightbox.generation.models import DONE, INPROGRESS

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.fixture
def cluster_settings(cluster_settings):
    cluster_settings.heavy_queue = True
    return cluster_settings


def test_videos_wait_for_a_heavy_worker(cluster):
    team_id, key = cluster.make_team(credits_=1000)
    api = cluster.start_api()
    client = httpx.Client(base_url=f"{api.url}/api/external",
                          headers={"X-Api-Key": key}, timeout=60)
    cluster.start_worker(concurrency=1, queue="default")

    product = client.post("/products", data={"name": "Bottle"}, files={
        "file": ("p.png", image_bytes("PNG", size=(400, 400), alpha=True),
                 "image/png")})
    assert product.status_code == 200, product.text
    packshot = client.post("/packshots/register-ideas", json={
        "config": {"product": {"id": product.json()["product"]["id"]}}, "count": 1})
    assert packshot.status_code == 200, packshot.text
    (packshot_id,) = packshot.json()["createdRecordIds"]
    wait_for(lambda: cluster.unfinished(team_id) == 0, timeout=60)

    video = client.post("/video-picker/register-videos",
                        json={"imageId": packshot_id})
    assert video.status_code == 200, video.text
    (video_id,) = video.json()["createdRecordIds"]
    assert video_id.startswith("vid_")
    queues = cluster.runtime.queue
    assert queues.route(video_id) == "heavy" and queues.route(packshot_id) == "default"
    wait_for(lambda: queues.heavy.pending_count() >= 1, timeout=10)

    # The default worker leaves it alone.
    time.sleep(3)
    (waiting,) = [r for r in cluster.records(team_id) if r.id == video_id]
    assert (waiting.status, waiting.attempts) == (INPROGRESS, 0)
    assert queues.huey.pending_count() == 0

    cluster.start_worker(concurrency=1, queue="heavy")
    wait_for(lambda: cluster.unfinished(team_id) == 0, timeout=90, interval=0.5)
    (done,) = [r for r in cluster.records(team_id) if r.id == video_id]
    assert (done.status, done.attempts) == (DONE, 1)
    assert cluster.consumed_per_record(team_id) == {packshot_id: 1, video_id: 1}
    # The MP4, through the API's presigned URL, straight from the store.
    (listed,) = client.get("/videos").json()["videos"]
    mp4 = httpx.get(listed["videoUrl"], timeout=30).content
    assert mp4[4:8] == b"ftyp" and len(mp4) > 10_000
    client.close()
