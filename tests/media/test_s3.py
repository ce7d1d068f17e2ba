"""S3Storage against moto's in-process S3, and the API serving from it."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from conftest import test_settings
from factories import image_bytes
from PIL import Image

from lightbox.errors import NotFound
from lightbox.media.storage import InvalidMediaKey, S3Storage, open_storage

moto = pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")

BUCKET = "lightbox-media"
MEDIA_URL = f"s3://{BUCKET}/instance-a?region=us-east-1"


@pytest.fixture
def s3():
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def storage(s3, tmp_path) -> S3Storage:
    settings = test_settings(tmp_path, media_url=MEDIA_URL, base_url="http://api:1")
    opened = open_storage(settings)
    assert isinstance(opened, S3Storage)
    return opened


def test_round_trip_under_the_prefix(storage, s3):
    key = "teams/t1/products/p1/original.jpg"
    assert not storage.exists(key)

    storage.put(key, b"\xff\xd8jpeg", content_type="image/jpeg")

    assert storage.exists(key)
    assert storage.get(key) == b"\xff\xd8jpeg"
    head = s3.head_object(Bucket=BUCKET, Key=f"instance-a/{key}")
    assert head["ContentType"] == "image/jpeg"

    storage.delete(key)
    storage.delete(key)
    assert not storage.exists(key)
    with pytest.raises(NotFound):
        storage.get(key)


def test_unsafe_keys_are_refused(storage):
    for call in (storage.get, storage.exists, storage.delete, storage.url):
        with pytest.raises(InvalidMediaKey):
            call("teams/../../other-instance/secret.jpg")


def test_urls_go_through_the_api_by_default(storage):
    url = storage.url("teams/t1/a.jpg", ttl=300)
    parsed = urlparse(url)
    query = parse_qs(parsed.query)

    assert parsed.netloc == "api:1" and parsed.path == "/media/teams/t1/a.jpg"
    assert storage.verify("teams/t1/a.jpg", query["exp"][0], query["sig"][0]) >= 300


def test_presigned_urls_come_from_the_store(s3, tmp_path):
    settings = test_settings(tmp_path, media_url=MEDIA_URL + "&presign=1")
    storage = open_storage(settings)
    storage.put("teams/t1/a.png", b"png", content_type="image/png")

    url = storage.url("teams/t1/a.png", ttl=120)

    assert BUCKET in url and "instance-a/teams/t1/a.png" in url
    assert "Signature" in url or "X-Amz-Signature" in url


def test_bucket_is_required(tmp_path):
    with pytest.raises(ValueError, match="names no bucket"):
        open_storage(test_settings(tmp_path, media_url="s3:///prefix"))


def test_the_api_serves_uploads_stored_in_s3(s3, tmp_path, launch):
    from lightbox.accounts import service as accounts
    from lightbox.runtime import build_runtime

    settings = test_settings(tmp_path / "data", media_url=MEDIA_URL, workers=0)
    runtime = build_runtime(settings)
    live = launch(runtime, start_workers=False)
    try:
        runtime.storage.base_url = live.url
        with runtime.db.session() as session:
            team = accounts.create_team(session, name="s3")
            _, raw = accounts.create_api_key(session, team_id=team.id,
                                             secret_key=settings.secret_key)
        client = httpx.Client(base_url=f"{live.url}/api/external",
                              headers={"X-Api-Key": raw})

        data = image_bytes("JPEG", (800, 600))
        product = client.post(
            "/products", files={"file": ("s3.jpg", data, "image/jpeg")}
        ).json()["product"]

        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="instance-a/teams/")
        names = sorted(o["Key"].rsplit("/", 1)[1] for o in listed["Contents"])
        assert names == ["original.jpg", "thumb.jpg"]
        assert httpx.get(product["imageUrl"]).content == data
        thumb = httpx.get(product["thumbnail"])
        assert thumb.headers["cache-control"].startswith("private, max-age=")
        assert Image.open(io.BytesIO(thumb.content)).size == (640, 480)
        assert not (tmp_path / "data" / "media").exists()
        client.close()
    finally:
        live.stop()
        runtime.close()
