"""Workspace users: argon2 passwords, one generic error, lockout after failures."""

from __future__ import annotations

import datetime as dt

import pytest

from lightbox.accounts import service
from lightbox.accounts.models import User
from lightbox.errors import BadRequest, Conflict, Unauthorized

PASSWORD = "correct horse battery"


@pytest.fixture
def user_id(database, team_id) -> str:
    with database.session() as session:
        return service.create_user(session, team_id=team_id, email="Ann@Example.com",
                                   password=PASSWORD, role="owner").id


def login(database, email: str, password: str) -> User:
    # Commit even when the login fails, as a web route must, so the failure
    # counter persists.
    with database.session() as session:
        try:
            return service.authenticate_user(session, email=email, password=password)
        except Unauthorized as exc:
            session.commit()
            raise exc


def failed_message(database, email: str, password: str) -> str:
    with pytest.raises(Unauthorized) as caught:
        login(database, email, password)
    return caught.value.message


class TestCreate:
    def test_password_is_argon2_hashed_email_lower_cased(self, database, user_id):
        with database.session() as session:
            user = session.get(User, user_id)
            assert user.email == "ann@example.com"
            assert user.password_hash.startswith("$argon2id$")
            assert PASSWORD not in user.password_hash
            assert (user.role, user.failed_logins, user.locked_until) == (
                "owner", 0, None)

    def test_duplicate_email_ignores_case(self, database, team_id, user_id):
        with database.session() as session:
            with pytest.raises(Conflict):
                service.create_user(session, team_id=team_id,
                                    email="ANN@example.com", password=PASSWORD)

    @pytest.mark.parametrize("email,password,role,message", [
        ("not-an-email", PASSWORD, "member", "email: not a valid address"),
        ("b@example.com", "short", "member", "password: must be at least 10"),
        ("b@example.com", PASSWORD, "admin", "role: must be one of owner, member"),
    ])
    def test_invalid_input(self, database, team_id, email, password, role, message):
        with database.session() as session:
            with pytest.raises(BadRequest, match=message):
                service.create_user(session, team_id=team_id, email=email,
                                    password=password, role=role)


class TestAuthenticate:
    def test_right_password_any_case_email(self, database, user_id):
        assert login(database, " ANN@example.com", PASSWORD).id == user_id

    def test_wrong_password_and_unknown_email_look_the_same(self, database, user_id):
        wrong = failed_message(database, "ann@example.com", "wrong password!")
        unknown = failed_message(database, "bob@example.com", PASSWORD)
        garbage = failed_message(database, "", PASSWORD)

        assert wrong == unknown == garbage == "Invalid email or password."

    def test_locked_after_five_failures_even_for_the_right_password(
        self, database, user_id
    ):
        for _ in range(4):
            failed_message(database, "ann@example.com", "wrong password!")
        with database.session() as session:
            assert session.get(User, user_id).locked_until is None

        failed_message(database, "ann@example.com", "wrong password!")
        with database.session() as session:
            user = session.get(User, user_id)
            assert user.failed_logins == 5
            delay = user.locked_until - dt.datetime.now(dt.UTC)
        assert dt.timedelta(seconds=25) < delay <= dt.timedelta(seconds=30)

        assert failed_message(database, "ann@example.com", PASSWORD) == (
            "Invalid email or password.")

    def test_lock_grows_then_expires_and_success_resets(self, database, user_id):
        for _ in range(5):
            failed_message(database, "ann@example.com", "wrong password!")
        with database.session() as session:
            session.get(User, user_id).locked_until = (
                dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))

        # A sixth failure doubles the delay.
        failed_message(database, "ann@example.com", "wrong password!")
        with database.session() as session:
            user = session.get(User, user_id)
            delay = user.locked_until - dt.datetime.now(dt.UTC)
            assert dt.timedelta(seconds=55) < delay <= dt.timedelta(seconds=60)
            user.locked_until = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)

        assert login(database, "ann@example.com", PASSWORD).id == user_id
        with database.session() as session:
            user = session.get(User, user_id)
            assert (user.failed_logins, user.locked_until) == (0, None)

    def test_lockout_is_capped_at_fifteen_minutes(self):
        assert service._lockout(5) == dt.timedelta(seconds=30)
        assert service._lockout(7) == dt.timedelta(seconds=120)
        assert service._lockout(50) == dt.timedelta(minutes=15)
