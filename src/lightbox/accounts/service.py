"""Teams, API keys and workspace users: creation, lookup and authentication.

API keys are ``mk_live_<keyId>.<secret>``. The keyId is public and is the row's
primary key; the secret (43 base62 characters, about 256 bits) is shown once and
stored only as an HMAC-SHA256 keyed with the instance's secret key, so a leaked
database alone does not yield usable keys. A random 256-bit secret needs no slow
hash: nobody can brute-force it, and a keyed hash keeps verification cheap on
every request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import string

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from lightbox.accounts.models import ALL_SCOPES, ROLES, ApiKey, Invitation, Team, User
from lightbox.db import utcnow
from lightbox.errors import BadRequest, Conflict, NotFound, Unauthorized

log = structlog.get_logger(__name__)

KEY_PREFIX = "mk_live_"
KEY_ID_LENGTH = 16
SECRET_LENGTH = 43  # 43 base62 characters carry about 256 bits
DEFAULT_SCOPES: tuple[str, ...] = ALL_SCOPES

_BASE62 = frozenset(string.ascii_letters + string.digits)
_ALPHABET = string.ascii_letters + string.digits

MAX_FAILED_LOGINS = 5
LOCKOUT_BASE = dt.timedelta(seconds=30)
LOCKOUT_MAX = dt.timedelta(minutes=15)
INVALID_LOGIN = "Invalid email or password."

_hasher = PasswordHasher()
# Verified against when the email is unknown, so that case costs the same time
# as a wrong password and cannot be told apart by timing.
_DUMMY_PASSWORD_HASH = _hasher.hash(secrets.token_urlsafe(16))


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def hash_secret(key_id: str, secret: str, *, secret_key: str) -> str:
    """The stored form of a key; hashing the keyId too stops moving hashes between
    rows."""
    message = f"{key_id}.{secret}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


# Teams -----------------------------------------------------------------------


def create_team(session: Session, *, name: str) -> Team:
    """A new team with an empty credit account (grant credits separately)."""
    from lightbox.credits.models import CreditAccount

    name = name.strip()
    if not name:
        raise BadRequest("name: must not be empty")
    if len(name) > 200:
        raise BadRequest("name: must be at most 200 characters")
    if session.scalar(select(Team.id).where(Team.name == name)) is not None:
        raise Conflict(f"A team named {name!r} already exists.")

    team = Team(name=name)
    session.add(team)
    session.flush()
    session.add(CreditAccount(team_id=team.id, balance=0, reserved=0))
    session.flush()

    log.info("team.created", team_id=team.id)
    return team


def find_team(session: Session, ref: str) -> Team:
    """The team whose id or, failing that, whose name is ``ref``."""
    team = session.get(Team, ref)
    if team is None:
        team = session.scalar(select(Team).where(Team.name == ref))
    if team is None:
        raise NotFound(f"Team not found: {ref}")
    return team


def list_teams(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.created_at, Team.id)))


# API keys --------------------------------------------------------------------


def _check_scopes(scopes: tuple[str, ...] | list[str] | str) -> str:
    if isinstance(scopes, str):
        scopes = scopes.split()
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise BadRequest(f"scopes: unknown scope {unknown[0]!r}")
    if not scopes:
        raise BadRequest("scopes: at least one scope is required")
    # Canonical order keeps the column comparable across keys.
    return " ".join(s for s in ALL_SCOPES if s in scopes)


def create_api_key(
    session: Session,
    *,
    team_id: str,
    name: str = "",
    scopes: tuple[str, ...] | list[str] | str = DEFAULT_SCOPES,
    expires_at: dt.datetime | None = None,
    secret_key: str,
) -> tuple[ApiKey, str]:
    """A new key for the team and the full key string, the only time it exists."""
    if session.get(Team, team_id) is None:
        raise NotFound(f"Team not found: {team_id}")
    if expires_at is not None and expires_at.tzinfo is None:
        raise BadRequest("expires_at: must be timezone-aware")
    scope_text = _check_scopes(scopes)

    key_id = _random_base62(KEY_ID_LENGTH)
    secret = _random_base62(SECRET_LENGTH)
    key = ApiKey(
        id=key_id,
        team_id=team_id,
        name=name.strip()[:200],
        secret_hash=hash_secret(key_id, secret, secret_key=secret_key),
        scopes=scope_text,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()

    log.info("api_key.created", team_id=team_id, key_id=key_id, scopes=scope_text)
    return key, f"{KEY_PREFIX}{key_id}.{secret}"


def revoke_api_key(
    session: Session, *, key_id: str, team_id: str | None = None
) -> ApiKey:
    """Revoke a key (idempotent); with ``team_id``, another team's key is a 404."""
    key = session.get(ApiKey, key_id)
    if key is None or (team_id is not None and key.team_id != team_id):
        raise NotFound(f"API key not found: {key_id}")

    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
        log.info("api_key.revoked", team_id=key.team_id, key_id=key.id)
    return key


def list_api_keys(session: Session, *, team_id: str) -> list[ApiKey]:
    """The team's keys, newest first, revoked and expired ones included."""
    query = (
        select(ApiKey)
        .where(ApiKey.team_id == team_id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id)
    )
    return list(session.scalars(query))


def parse_api_key(raw_key: str) -> tuple[str, str] | None:
    """(keyId, secret) of a well-formed key string, else None."""
    if not raw_key.startswith(KEY_PREFIX):
        return None
    key_id, dot, secret = raw_key[len(KEY_PREFIX):].partition(".")
    if not dot or len(key_id) != KEY_ID_LENGTH or len(secret) != SECRET_LENGTH:
        return None
    if not (set(key_id) <= _BASE62 and set(secret) <= _BASE62):
        return None
    return key_id, secret


def authenticate(session: Session, raw_key: str, *, secret_key: str) -> ApiKey:
    """The active key that ``raw_key`` proves, else Unauthorized("Invalid API key.").

    Every failure (malformed, unknown, wrong secret, revoked, expired) raises the
    same error, so a caller cannot probe which keyIds exist.
    """
    parsed = parse_api_key(raw_key or "")
    if parsed is None:
        raise Unauthorized()
    key_id, secret = parsed

    key = session.get(ApiKey, key_id)
    expected = key.secret_hash if key is not None else "0" * 64
    # Hash even when the keyId is unknown, so timing does not reveal valid keyIds.
    presented = hash_secret(key_id, secret, secret_key=secret_key)
    if not hmac.compare_digest(presented, expected) or key is None:
        raise Unauthorized()
    if not key.is_active(utcnow()):
        raise Unauthorized()
    return key


TOUCH_EVERY = dt.timedelta(minutes=1)


def touch_due(key: ApiKey, *, now: dt.datetime | None = None,
              every: dt.timedelta = TOUCH_EVERY) -> bool:
    """Whether ``key``'s last use is older than ``every`` (and worth a write)."""
    now = now or utcnow()
    return key.last_used_at is None or now - key.last_used_at >= every


def touch_api_key(
    session: Session,
    key: ApiKey,
    *,
    now: dt.datetime | None = None,
    every: dt.timedelta = TOUCH_EVERY,
) -> bool:
    """Record use of ``key``, at most once per ``every`` so hot keys cost no writes."""
    now = now or utcnow()
    if not touch_due(key, now=now, every=every):
        return False
    key.last_used_at = now
    session.flush()
    return True


# Users -----------------------------------------------------------------------


def _normalise_email(email: str) -> str:
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or len(email) > 320:
        raise BadRequest(f"email: not a valid address: {email!r}")
    return email


def create_user(
    session: Session, *, team_id: str, email: str, password: str, role: str = "member"
) -> User:
    """A workspace user with an argon2id password hash."""
    email = _normalise_email(email)
    if role not in ROLES:
        raise BadRequest(f"role: must be one of {', '.join(ROLES)}, not {role!r}")
    if len(password) < 10:
        raise BadRequest("password: must be at least 10 characters")
    if session.get(Team, team_id) is None:
        raise NotFound(f"Team not found: {team_id}")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("A user with this email already exists.")

    user = User(
        team_id=team_id, email=email, password_hash=_hasher.hash(password), role=role
    )
    session.add(user)
    session.flush()

    log.info("user.created", team_id=team_id, user_id=user.id, role=role)
    return user


def _lockout(failed_logins: int) -> dt.timedelta:
    """Doubling delay from the fifth failure on: 30 s, 60 s, ... capped at 15 min."""
    steps = failed_logins - MAX_FAILED_LOGINS
    return min(LOCKOUT_BASE * (2 ** min(steps, 10)), LOCKOUT_MAX)


def authenticate_user(session: Session, *, email: str, password: str) -> User:
    """The user these credentials prove, else Unauthorized (one generic message).

    A failure increments ``failed_logins`` (flushed before raising); from the fifth
    one the account is locked for a growing delay, during which even the right
    password fails with the same message. The caller must COMMIT the session when
    it catches the error, or the count is rolled back with the request.
    """
    now = utcnow()
    try:
        email = _normalise_email(email)
    except BadRequest:
        email = ""
    user = session.scalar(select(User).where(User.email == email)) if email else None

    if user is None:
        _verify(_DUMMY_PASSWORD_HASH, password)
        raise Unauthorized(INVALID_LOGIN)
    if user.locked_until is not None and user.locked_until > now:
        log.info("user.login_locked", user_id=user.id)
        raise Unauthorized(INVALID_LOGIN)

    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + _lockout(user.failed_logins)
        session.flush()
        log.info("user.login_failed", user_id=user.id, failures=user.failed_logins)
        raise Unauthorized(INVALID_LOGIN)

    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    session.flush()
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Workspace members and invitations (the web workspace's settings page) ---------

INVITATION_TTL = dt.timedelta(days=7)
INVALID_INVITATION = "This invitation link is invalid, used or expired."


def count_users(session: Session) -> int:
    """How many workspace users the instance has (0 means a fresh instance)."""
    from sqlalchemy import func

    return session.scalar(select(func.count()).select_from(User)) or 0


def get_user(session: Session, *, user_id: str) -> User | None:
    return session.get(User, user_id)


def list_users(session: Session, *, team_id: str) -> list[User]:
    """The team's members, oldest first (the owner who set it up leads)."""
    query = select(User).where(User.team_id == team_id).order_by(
        User.created_at, User.id
    )
    return list(session.scalars(query))


def teams_without_users(session: Session) -> list[Team]:
    """Teams nobody can sign in to yet (e.g. the demo team of ``lightbox serve``)."""
    has_user = select(User.id).where(User.team_id == Team.id).exists()
    return list(session.scalars(select(Team).where(~has_user).order_by(Team.name)))


def remove_user(session: Session, *, team_id: str, user_id: str) -> User:
    """Delete a member; the team's last owner cannot be removed (409)."""
    user = session.get(User, user_id)
    if user is None or user.team_id != team_id:
        raise NotFound(f"User not found: {user_id}")

    if user.role == "owner":
        owners = [u for u in list_users(session, team_id=team_id) if u.role == "owner"]
        if len(owners) <= 1:
            raise Conflict("The team's last owner cannot be removed.")
    session.delete(user)
    session.flush()
    log.info("user.removed", team_id=team_id, user_id=user_id)
    return user


def _invitation_hash(token: str) -> str:
    # The token is 256 random bits, so a plain SHA-256 cannot be brute-forced.
    return hashlib.sha256(token.encode()).hexdigest()


def create_invitation(
    session: Session, *, team_id: str, email: str, role: str = "member",
    ttl: dt.timedelta = INVITATION_TTL,
) -> tuple[Invitation, str]:
    """A one-time invitation and its token, the only time the token exists."""
    email = _normalise_email(email)
    if role not in ROLES:
        raise BadRequest(f"role: must be one of {', '.join(ROLES)}, not {role!r}")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("email: a user with this email already exists")

    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        team_id=team_id, email=email, role=role, token_hash=_invitation_hash(token),
        expires_at=utcnow() + ttl,
    )
    session.add(invitation)
    session.flush()
    log.info("invitation.created", team_id=team_id, invitation_id=invitation.id)
    return invitation, token


def list_invitations(session: Session, *, team_id: str) -> list[Invitation]:
    """The team's invitations still waiting to be accepted, newest first."""
    query = (
        select(Invitation)
        .where(Invitation.team_id == team_id, Invitation.accepted_at.is_(None),
               Invitation.expires_at > utcnow())
        .order_by(Invitation.created_at.desc())
    )
    return list(session.scalars(query))


def find_invitation(session: Session, *, token: str) -> Invitation:
    """The open invitation ``token`` proves; NotFound with one message otherwise."""
    invitation = session.scalar(
        select(Invitation).where(Invitation.token_hash == _invitation_hash(token))
    )
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.expires_at <= utcnow()
    ):
        raise NotFound(INVALID_INVITATION)
    return invitation


def accept_invitation(session: Session, *, token: str, password: str) -> User:
    """Create the invited user with ``password``; the token cannot be used again."""
    invitation = find_invitation(session, token=token)
    user = create_user(
        session, team_id=invitation.team_id, email=invitation.email,
        password=password, role=invitation.role,
    )
    invitation.accepted_at = utcnow()
    session.flush()
    log.info("invitation.accepted", invitation_id=invitation.id, user_id=user.id)
    return user


def revoke_invitation(session: Session, *, team_id: str, invitation_id: str) -> None:
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.team_id != team_id:
        raise NotFound(f"Invitation not found: {invitation_id}")
    session.delete(invitation)
    session.flush()
