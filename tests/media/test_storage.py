"""LocalStorage and signed URLs, without a server."""

from __future__ import annotations

import os
import threading
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from lightbox.config import Settings
from lightbox.errors import NotFound
from lightbox.media import signing
from lightbox.media.storage import (
    InvalidMediaKey,
    LocalStorage,
    check_key,
    content_type_for,
    open_storage,
)

SECRET = "s" * 40


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path / "media", base_url="http://media.test:8000/",
                        secret_key=SECRET, default_ttl=3600)


class TestKeys:
    @pytest.mark.parametrize("key", [
        "../etc/passwd",
        "teams/../../etc/passwd",
        "teams/t/../../x.jpg",
        "/etc/passwd",
        "teams//x.jpg",
        "teams/t/",
        ".hidden/x.jpg",
        "teams/./x.jpg",
        "teams\\..\\x.jpg",
        "C:/x.jpg",
        "teams/x.jpg\x00.png",
        "teams/x y.jpg",
        "teams/trailingdot.",
        "",
        "a/" * 300 + "x.jpg",
    ])
    def test_unsafe_keys_are_refused_everywhere(self, storage, key):
        with pytest.raises(InvalidMediaKey):
            check_key(key)
        for call in (storage.path, storage.get, storage.exists, storage.delete,
                     storage.url):
            with pytest.raises(InvalidMediaKey):
                call(key)
        with pytest.raises(InvalidMediaKey):
            storage.put(key, b"x", content_type="image/jpeg")

    def test_a_symlink_out_of_the_root_is_refused(self, storage, tmp_path):
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "secret.jpg").write_bytes(b"secret")
        (storage.root / "teams").mkdir()
        os.symlink(outside, storage.root / "teams" / "link")

        with pytest.raises(InvalidMediaKey):
            storage.get("teams/link/secret.jpg")

    def test_ordinary_keys_pass(self):
        key = "teams/team_abc/products/prod_X9/original.thumb.jpg"
        assert check_key(key) == key

    @pytest.mark.parametrize("key,expected", [
        ("a/b.jpg", "image/jpeg"), ("a/b.JPEG", "image/jpeg"),
        ("a/b.png", "image/png"), ("a/b.webp", "image/webp"),
        ("a/b.mp4", "video/mp4"), ("a/b.bin", "application/octet-stream"),
    ])
    def test_content_type_from_extension(self, key, expected):
        assert content_type_for(key) == expected


class TestLocalStorage:
    def test_round_trip(self, storage):
        key = "teams/t1/products/p1/original.jpg"
        assert not storage.exists(key)

        storage.put(key, b"\xff\xd8bytes", content_type="image/jpeg")

        assert storage.exists(key)
        assert storage.get(key) == b"\xff\xd8bytes"
        assert (storage.root / key).read_bytes() == b"\xff\xd8bytes"

    def test_overwrite_leaves_no_temporary_files(self, storage):
        key = "teams/t1/a.png"
        storage.put(key, b"one", content_type="image/png")
        storage.put(key, b"two", content_type="image/png")

        assert storage.get(key) == b"two"
        assert sorted(p.name for p in (storage.root / "teams/t1").iterdir()) == [
            "a.png"
        ]

    def test_concurrent_writers_of_one_key_leave_one_whole_file(self, storage):
        key = "teams/t1/cutout.png"
        payloads = [bytes([i]) * 200_000 for i in range(8)]
        threads = [
            threading.Thread(target=storage.put, args=(key, p),
                             kwargs={"content_type": "image/png"})
            for p in payloads
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert storage.get(key) in payloads

    def test_missing_key_is_not_found(self, storage):
        with pytest.raises(NotFound):
            storage.get("teams/t1/nothing.jpg")

    def test_delete_is_idempotent(self, storage):
        key = "teams/t1/a.jpg"
        storage.put(key, b"x", content_type="image/jpeg")

        storage.delete(key)
        storage.delete(key)

        assert not storage.exists(key)

    def test_url_is_absolute_signed_and_verifiable(self, storage):
        key = "teams/t1/products/p1/thumb.jpg"
        url = storage.url(key, ttl=600)

        parsed = urlparse(url)
        query = parse_qs(parsed.query)
        assert (parsed.scheme, parsed.netloc) == ("http", "media.test:8000")
        assert unquote(parsed.path) == f"/media/{key}"
        remaining = storage.verify(key, query["exp"][0], query["sig"][0])
        assert 600 <= remaining <= 600 + 600 // 24 + 1

    def test_url_uses_the_default_ttl(self, storage):
        url = storage.url("teams/t1/a.jpg")
        exp = int(parse_qs(urlparse(url).query)["exp"][0])
        remaining = storage.verify("teams/t1/a.jpg", str(exp),
                                   parse_qs(urlparse(url).query)["sig"][0])
        assert 3600 <= remaining <= 3600 + 150 + 1


class TestSigning:
    def test_valid_signature_reports_remaining_seconds(self):
        sig = signing.sign("a/b.jpg", 2000, secret=SECRET)
        assert signing.verify("a/b.jpg", "2000", sig, secret=SECRET, now=1500) == 500

    @pytest.mark.parametrize("key,exp,sig_for", [
        ("a/c.jpg", "2000", ("a/b.jpg", 2000)),  # another key
        ("a/b.jpg", "2999", ("a/b.jpg", 2000)),  # a later expiry
        ("a/b.jpg", "2000", ("a/b.jpg", 1999)),
    ])
    def test_tampering_invalidates(self, key, exp, sig_for):
        sig = signing.sign(*sig_for, secret=SECRET)
        assert signing.verify(key, exp, sig, secret=SECRET, now=1500) == 0

    def test_other_secret_invalidates(self):
        sig = signing.sign("a/b.jpg", 2000, secret="other-secret")
        assert signing.verify("a/b.jpg", "2000", sig, secret=SECRET, now=1500) == 0

    def test_expired(self):
        sig = signing.sign("a/b.jpg", 2000, secret=SECRET)
        assert signing.verify("a/b.jpg", "2000", sig, secret=SECRET, now=2000) == 0
        assert signing.verify("a/b.jpg", "2000", sig, secret=SECRET, now=2500) == 0

    @pytest.mark.parametrize("exp,sig", [
        (None, "x"), ("2000", None), ("soon", "x"), ("", ""), ("2000", "é"),
    ])
    def test_malformed_parameters(self, exp, sig):
        assert signing.verify("a/b.jpg", exp, sig, secret=SECRET, now=0) == 0

    def test_expiry_is_rounded_up_so_urls_repeat_within_a_step(self):
        first = signing.signed_url("http://h", "a/b.jpg", secret=SECRET,
                                   ttl=86400, now=1_000_000.0)
        second = signing.signed_url("http://h", "a/b.jpg", secret=SECRET,
                                    ttl=86400, now=1_000_100.0)
        assert first == second
        exp = int(parse_qs(urlparse(first).query)["exp"][0])
        assert exp % 3600 == 0
        assert 1_000_100 + 86400 <= exp < 1_000_000 + 86400 + 3600

    def test_ttl_must_be_positive(self):
        with pytest.raises(ValueError, match="ttl"):
            signing.expiry(0)


class TestOpenStorage:
    def test_default_is_local_under_the_data_dir(self, tmp_path):
        settings = Settings(data_dir=tmp_path, base_url="http://h:1",
                            secret_key=SECRET, media_url_ttl_seconds=120)
        storage = open_storage(settings)

        assert isinstance(storage, LocalStorage)
        assert storage.root == (tmp_path / "media").resolve()
        assert storage.default_ttl == 120
        assert storage.url("a/b.jpg").startswith("http://h:1/media/a/b.jpg?exp=")

    def test_file_url(self, tmp_path):
        settings = Settings(data_dir=tmp_path, media_url=f"file://{tmp_path}/elsewhere")
        assert open_storage(settings).root == (tmp_path / "elsewhere").resolve()

    def test_unknown_scheme_is_refused_at_start(self, tmp_path):
        settings = Settings(data_dir=tmp_path, media_url="ftp://host/bucket")
        with pytest.raises(ValueError, match="ftp://host/bucket"):
            open_storage(settings)
