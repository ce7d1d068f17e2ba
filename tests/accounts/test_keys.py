"""API keys: format, storage of the secret, and authentication failures."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, text

from lightbox.accounts import service
from lightbox.accounts.models import ApiKey
from lightbox.errors import BadRequest, NotFound, Unauthorized

SECRET = "accounts-test-secret-" + "s" * 24
KEY_RE = re.compile(r"^mk_live_([A-Za-z0-9]{16})\.([A-Za-z0-9]{43})$")


def make_key(database, team_id, **kwargs) -> tuple[str, str]:
    with database.session() as session:
        key, raw = service.create_api_key(
            session, team_id=team_id, secret_key=SECRET, **kwargs
        )
        return key.id, raw


def assert_rejected(database, raw: str, *, secret_key: str = SECRET) -> None:
    with database.session() as session:
        with pytest.raises(Unauthorized) as caught:
            service.authenticate(session, raw, secret_key=secret_key)
    assert caught.value.message == "Invalid API key."
    assert caught.value.status_code == 401


class TestCreate:
    def test_key_format_and_default_scopes(self, database, team_id):
        key_id, raw = make_key(database, team_id, name="ci")

        match = KEY_RE.match(raw)
        assert match is not None, raw
        assert match.group(1) == key_id
        with database.session() as session:
            key = session.get(ApiKey, key_id)
            assert key.team_id == team_id
            assert key.name == "ci"
            assert key.scopes == "content.read content.register"
            assert key.expires_at is None and key.revoked_at is None

    def test_secret_is_stored_only_as_a_keyed_hash(self, database, team_id):
        key_id, raw = make_key(database, team_id)
        secret = raw.split(".", 1)[1]

        with database.session() as session:
            key = session.get(ApiKey, key_id)
            assert key.secret_hash == service.hash_secret(
                key_id, secret, secret_key=SECRET
            )
            assert re.fullmatch(r"[0-9a-f]{64}", key.secret_hash)
            # No column of any row holds the secret in clear.
            rows = session.execute(text("SELECT * FROM api_keys")).all()
        assert not any(secret in str(value) for row in rows for value in row)

    def test_keys_are_unique_and_random(self, database, team_id):
        raws = {make_key(database, team_id)[1] for _ in range(20)}

        assert len(raws) == 20
        secrets_ = [raw.split(".")[1] for raw in raws]
        # 43 base62 characters from a CSPRNG: distinct prefixes, mixed classes.
        assert len({s[:8] for s in secrets_}) == 20
        joined = "".join(secrets_)
        assert re.search(r"[a-z]", joined) and re.search(r"[A-Z]", joined)
        assert re.search(r"[0-9]", joined)

    def test_scopes_are_validated_and_canonical(self, database, team_id):
        key_id, _ = make_key(
            database, team_id, scopes=["content.register", "content.read"]
        )
        with database.session() as session:
            assert session.get(ApiKey, key_id).scopes == (
                "content.read content.register"
            )

        with database.session() as session:
            with pytest.raises(BadRequest, match="unknown scope 'admin'"):
                service.create_api_key(session, team_id=team_id, scopes=["admin"],
                                       secret_key=SECRET)
            with pytest.raises(BadRequest, match="at least one scope"):
                service.create_api_key(session, team_id=team_id, scopes=[],
                                       secret_key=SECRET)

    def test_unknown_team(self, database):
        with database.session() as session:
            with pytest.raises(NotFound, match="Team not found: team_nope"):
                service.create_api_key(session, team_id="team_nope",
                                       secret_key=SECRET)


class TestAuthenticate:
    def test_valid_key_returns_its_row(self, database, team_id):
        key_id, raw = make_key(database, team_id)

        with database.session() as session:
            key = service.authenticate(session, raw, secret_key=SECRET)
        assert (key.id, key.team_id) == (key_id, team_id)

    @pytest.mark.parametrize("mangle", [
        lambda raw: "",
        lambda raw: "garbage",
        lambda raw: raw.replace("mk_live_", "mk_test_"),
        lambda raw: raw.replace(".", ""),
        lambda raw: raw[:-1],
        lambda raw: raw + "A",
        lambda raw: raw[:-1] + ("A" if raw[-1] != "A" else "B"),
        lambda raw: raw[:-1] + "!",
        lambda raw: "mk_live_" + "A" * 16 + "." + raw.split(".")[1],
        lambda raw: " " + raw,
    ], ids=["empty", "garbage", "prefix", "no-dot", "short", "long",
            "wrong-secret", "bad-char", "unknown-key-id", "whitespace"])
    def test_every_malformed_or_wrong_key_is_the_same_401(
        self, database, team_id, mangle
    ):
        _key_id, raw = make_key(database, team_id)

        assert_rejected(database, mangle(raw))

    def test_a_different_server_secret_rejects_the_key(self, database, team_id):
        _key_id, raw = make_key(database, team_id)

        assert_rejected(database, raw, secret_key=SECRET + "-other")

    def test_revoked_key(self, database, team_id):
        key_id, raw = make_key(database, team_id)

        with database.session() as session:
            key = service.revoke_api_key(session, key_id=key_id)
            first_revocation = key.revoked_at
        with database.session() as session:
            again = service.revoke_api_key(session, key_id=key_id)
            assert again.revoked_at == first_revocation  # idempotent

        assert_rejected(database, raw)

    def test_expired_key(self, database, team_id):
        now = dt.datetime.now(dt.UTC)
        _live_id, live = make_key(database, team_id,
                                  expires_at=now + dt.timedelta(hours=1))
        _dead_id, dead = make_key(database, team_id,
                                  expires_at=now - dt.timedelta(seconds=1))

        with database.session() as session:
            assert service.authenticate(session, live, secret_key=SECRET)
        assert_rejected(database, dead)

    def test_naive_expiry_is_refused(self, database, team_id):
        with database.session() as session:
            with pytest.raises(BadRequest, match="timezone-aware"):
                service.create_api_key(
                    session, team_id=team_id, secret_key=SECRET,
                    expires_at=dt.datetime(2030, 1, 1),
                )

    def test_hash_swap_between_rows_does_not_authenticate(self, database, team_id):
        # The keyId is part of the hashed message, so copying a known key's hash
        # onto another row does not make that row's keyId accept the secret.
        id_a, raw_a = make_key(database, team_id)
        id_b, _raw_b = make_key(database, team_id)
        with database.session() as session:
            session.get(ApiKey, id_b).secret_hash = session.get(
                ApiKey, id_a).secret_hash

        secret_a = raw_a.split(".")[1]
        assert_rejected(database, f"mk_live_{id_b}.{secret_a}")


class TestManage:
    def test_revoke_scoped_to_team(self, database, team_id):
        key_id, raw = make_key(database, team_id)
        with database.session() as session:
            other = service.create_team(session, name="Other").id

        with database.session() as session:
            with pytest.raises(NotFound, match=f"API key not found: {key_id}"):
                service.revoke_api_key(session, key_id=key_id, team_id=other)
        with database.session() as session:
            assert service.authenticate(session, raw, secret_key=SECRET)

    def test_list_newest_first_per_team(self, database, team_id):
        ids = [make_key(database, team_id, name=f"k{i}")[0] for i in range(3)]
        with database.session() as session:
            other = service.create_team(session, name="Other").id
        make_key(database, other)

        with database.session() as session:
            listed = service.list_api_keys(session, team_id=team_id)
        assert [key.id for key in listed] == ids[::-1]

    def test_touch_writes_at_most_once_a_minute(self, database, team_id):
        key_id, _ = make_key(database, team_id)
        start = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)

        with database.session() as session:
            key = session.get(ApiKey, key_id)
            assert service.touch_api_key(session, key, now=start)
            assert not service.touch_api_key(
                session, key, now=start + dt.timedelta(seconds=59))
            assert service.touch_api_key(
                session, key, now=start + dt.timedelta(seconds=61))
        with database.session() as session:
            stored = session.scalar(
                select(ApiKey.last_used_at).where(ApiKey.id == key_id))
        assert stored == start + dt.timedelta(seconds=61)


class TestTeams:
    def test_find_by_id_or_name(self, database, team_id):
        with database.session() as session:
            assert service.find_team(session, team_id).name == "Acme"
            assert service.find_team(session, "Acme").id == team_id
            with pytest.raises(NotFound, match="Team not found: Nope"):
                service.find_team(session, "Nope")

    def test_names_are_unique_and_non_empty(self, database, team_id):
        from lightbox.errors import Conflict

        with database.session() as session:
            with pytest.raises(Conflict, match="'Acme' already exists"):
                service.create_team(session, name=" Acme ")
            with pytest.raises(BadRequest, match="name: must not be empty"):
                service.create_team(session, name="  ")
