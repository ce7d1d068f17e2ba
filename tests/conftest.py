"""Shared fixtures: an instance on a temporary data dir, served over real HTTP.

``server`` runs the real app in a real Uvicorn on a free loopback port; API tests
talk to it with httpx exactly as a customer's script would. Test modules import
helpers by bare name (pytest.ini puts tests/ on the path): ``from conftest import
wait_for, require_service``, ``from factories import image_bytes``.

Every test that uses ``server`` runs twice, once per ``mode``: "embedded" (SQLite,
the SQLite queue, local files, the in-memory rate limiter) and "scaled" (a fresh
PostgreSQL database, Huey on Redis under a queue name of its own, the Redis rate
limiter, S3 on a moto server process, presigned URLs). One suite, the same code paths:
the scaled settings are applied to whatever ``settings`` the test chose, just
before its runtime is built. ``LIGHTBOX_TEST_MODES=embedded`` runs one mode only.
Scaled tests skip when PostgreSQL or Redis is not running, and fail instead with
``LIGHTBOX_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn

from lightbox.config import Settings

REQUIRE_SERVICES = os.environ.get("LIGHTBOX_REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get(
    "LIGHTBOX_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("LIGHTBOX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
MODES = [m.strip() for m in os.environ.get("LIGHTBOX_TEST_MODES",
                                            "embedded,scaled").split(",")
         if m.strip()]
S3_BUCKET = "lightbox-test"
# Tests about one backend by design run embedded only (node id prefixes). The
# /media route tests check the API's own signed URLs, which scaled mode replaces
# with the store's presigned ones (tests/media/test_s3.py covers those); the
# refused-upload test looks for leftovers in the local media directory.
EMBEDDED_ONLY = (
    "tests/media/test_routes.py::",
    ("tests/catalog/test_products.py::TestRefusedUploads::"
     "test_refused_uploads_leave_nothing_behind"),
)


def require_service(name: str, probe) -> None:
    """Skip (or, in CI, fail) when a service a test needs is not running."""
    try:
        probe()
    except Exception as exc:  # any failure to reach it counts as "not running"
        reason = f"{name} not reachable: {type(exc).__name__}: {exc}"
        if REQUIRE_SERVICES:
            pytest.fail(f"{reason} (LIGHTBOX_REQUIRE_SERVICES=1)")
        pytest.skip(reason)


def _postgres_admin_dsn() -> str:
    return POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def throwaway_postgres(prefix: str = "lb_test"):
    """A fresh, empty PostgreSQL database for one test; yields its SQLAlchemy URL.

    Skips (or fails under LIGHTBOX_REQUIRE_SERVICES=1) when PostgreSQL is down.
    """
    import psycopg

    admin = _postgres_admin_dsn()
    require_service("PostgreSQL",
                    lambda: psycopg.connect(admin, connect_timeout=3).close())
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_URL.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_settings(data_dir: Path, **overrides) -> Settings:
    values = dict(
        env="test",
        data_dir=data_dir,
        secret_key="test-secret-" + "x" * 32,
        workers=2,
        lease_seconds=10,
        sweep_seconds=1,
        rate_limit_per_minute=10_000,
        log_format="console",
        log_level="WARNING",
    )
    values.update(overrides)
    return Settings(**values)


test_settings.__test__ = False  # a factory, not a test


def pytest_generate_tests(metafunc) -> None:
    # Only HTTP tests run in both modes: they cover the whole API, and doubling
    # the engine and unit tests would buy nothing but CI time.
    if "mode" not in metafunc.fixturenames or "server" not in metafunc.fixturenames:
        return
    if metafunc.definition.nodeid.startswith(EMBEDDED_ONLY):
        return
    if any(mark.name == "parametrize" and "mode" in mark.args[0]
           for mark in metafunc.definition.iter_markers()):
        return
    metafunc.parametrize("mode", MODES, indirect=True)


@pytest.fixture
def mode(request) -> str:
    """"embedded" or "scaled"; tests that use ``server`` get both."""
    value = getattr(request, "param", "embedded")
    if value not in ("embedded", "scaled"):
        raise ValueError(f"LIGHTBOX_TEST_MODES: unknown mode {value!r}")
    return value


@dataclass
class ScaledServices:
    """The shared servers of the scaled mode, probed and started once."""

    admin_dsn: str  # psycopg DSN of the PostgreSQL server's admin database
    base_url: str  # the SQLAlchemy URL without its database name
    template: str  # a migrated database that fresh ones are copied from
    redis_url: str
    s3_endpoint: str

    def create_database(self, *, migrated: bool = True) -> str:
        """A fresh database: a copy of the migrated template, or an empty one."""
        import psycopg

        name = f"lb_test_{uuid.uuid4().hex[:12]}"
        template = f' TEMPLATE "{self.template}"' if migrated else ""
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{template}')
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def apply(self, settings: Settings, *, tag: str, database: str) -> None:
        """Point ``settings`` at the services, keeping URLs a test set itself."""
        if not settings.database_url:
            settings.database_url = f"{self.base_url}/{database}"
        if not settings.queue_url:
            settings.queue_url = self.redis_url
            settings.queue_name = f"lightbox-test-{tag}"
        if not settings.redis_url:
            settings.redis_url = self.redis_url
        if not settings.media_url:
            settings.media_url = (f"s3://{S3_BUCKET}/{tag}?endpoint_url="
                                  f"{self.s3_endpoint}&region=us-east-1&presign=1")


def _probe_services() -> None:
    import psycopg
    import redis

    admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    require_service("PostgreSQL",
                    lambda: psycopg.connect(admin, connect_timeout=3).close())
    require_service("Redis", lambda: redis.Redis.from_url(
        REDIS_URL, socket_connect_timeout=1).ping())


@pytest.fixture(scope="session")
def scaled_services():
    """PostgreSQL and Redis as the machine runs them, S3 from a moto server."""
    _probe_services()
    import boto3
    import psycopg

    from lightbox.db import Database
    from lightbox.migrate import upgrade

    # moto accepts any credentials; boto3 only needs some to sign with.
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"),
                        ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        os.environ.setdefault(name, value)
    # moto's server in a process of its own: an in-process one shares moto's
    # state with mock_aws(), whose exit (tests/media/test_s3.py) resets it and
    # deletes the bucket under every later scaled test.
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    deadline = time.monotonic() + 30
    while True:
        try:
            s3.create_bucket(Bucket=S3_BUCKET)
            break
        except Exception:  # not listening yet
            if moto.poll() is not None or time.monotonic() > deadline:
                moto.kill()
                raise
            time.sleep(0.1)

    # Migrate once; each test copies the template (CREATE DATABASE ... TEMPLATE),
    # much faster than running every migration per test.
    admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    base_url = POSTGRES_URL.rpartition("/")[0]
    template = f"lb_tpl_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{template}"')
    services = ScaledServices(admin_dsn=admin, base_url=base_url,
                              template=template, redis_url=REDIS_URL,
                              s3_endpoint=endpoint)
    try:
        db = Database(f"{base_url}/{template}")
        upgrade(db)
        db.dispose()
        yield services
    finally:
        services.drop_database(template)
        moto.terminate()
        moto.wait(timeout=10)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path / "data")


@pytest.fixture
def runtime(settings, mode, request):
    from lightbox.runtime import build_runtime

    if mode == "embedded":
        rt = build_runtime(settings)
        yield rt
        rt.close()
        return

    from lightbox.logs import configure_logging

    services = request.getfixturevalue("scaled_services")
    # As every lightbox process does before building its runtime (which logs):
    # a CLI test may have left structlog writing to a stream since closed.
    configure_logging(settings)
    tag = uuid.uuid4().hex[:12]
    database = services.create_database()
    services.apply(settings, tag=tag, database=database)
    try:
        rt = build_runtime(settings)
        try:
            yield rt
        finally:
            rt.close()
            _forget_queue(settings)
    finally:
        services.drop_database(database)


def _forget_queue(settings: Settings) -> None:
    """Delete the test's Huey keys from the shared Redis."""
    from lightbox.generation.queue import make_huey

    for name in (settings.queue_name, f"{settings.queue_name}-heavy"):
        huey = make_huey(settings.queue_url, name=name)
        huey.flush()
        huey.storage.close()


@dataclass
class LiveServer:
    url: str
    app: object
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def start_server(runtime, *, start_workers: bool = True) -> LiveServer:
    from lightbox.app import create_app

    app = create_app(runtime=runtime, start_workers=start_workers)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              daemon=True)
    thread.start()

    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    return LiveServer(url=f"http://127.0.0.1:{port}", app=app, server=server,
                      thread=thread)


@pytest.fixture
def launch():
    """Start more servers (e.g. with other settings); all stop at teardown."""
    started: list[LiveServer] = []

    def _launch(runtime, **kwargs) -> LiveServer:
        live = start_server(runtime, **kwargs)
        started.append(live)
        return live

    yield _launch
    for live in reversed(started):
        live.stop()


def serve(runtime, launch) -> LiveServer:
    """Serve ``runtime`` and point its signed media URLs at the real port."""
    runtime.settings.base_url = "pending"
    live = launch(runtime)
    runtime.settings.base_url = live.url
    storage = runtime.storage
    if hasattr(storage, "base_url"):
        storage.base_url = live.url
    return live


@pytest.fixture
def server(runtime, launch) -> LiveServer:
    return serve(runtime, launch)


@dataclass
class TeamClient:
    team_id: str
    key: str
    key_id: str
    client: httpx.Client
    runtime: object = field(repr=False)

    @contextmanager
    def session(self):
        with self.runtime.db.session() as session:
            yield session


@pytest.fixture
def make_team(runtime, server):
    from lightbox.accounts import service as accounts
    from lightbox.credits import service as credits_service

    clients: list[httpx.Client] = []
    counter = iter(range(10_000))

    def _make(credits: int = 1000, scopes=None, name: str | None = None) -> TeamClient:
        with runtime.db.session() as session:
            team = accounts.create_team(session, name=name or f"team-{next(counter)}")
            if credits:
                credits_service.grant(session, team_id=team.id, amount=credits,
                              note="test grant")
            kwargs = {"scopes": scopes} if scopes is not None else {}
            key, raw = accounts.create_api_key(
                session, team_id=team.id, name="test",
                secret_key=runtime.settings.secret_key, **kwargs
            )
            team_id, key_id = team.id, key.id

        client = httpx.Client(base_url=f"{server.url}/api/external",
                              headers={"X-Api-Key": raw}, timeout=30)
        clients.append(client)
        return TeamClient(team_id=team_id, key=raw, key_id=key_id, client=client,
                          runtime=runtime)

    yield _make
    for client in clients:
        client.close()


@pytest.fixture
def api(make_team) -> TeamClient:
    return make_team()


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.1):
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
