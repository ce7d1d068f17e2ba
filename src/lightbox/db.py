"""Database engine, sessions and the declarative base.

Services receive a ``Session`` and only ``flush``; the request or task boundary
commits. Work that must happen only once data is durable (enqueueing a render,
deleting a file) is registered with ``on_commit`` and runs after the commit, never
after a rollback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import anyio.to_thread
import structlog
from anyio import CapacityLimiter
from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Write transactions let into the thread pool at once on PostgreSQL; below
# Starlette's 40 threads, so lock holders always find one to commit on.
POSTGRES_WRITERS = 16

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime()}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def isoformat(value: dt.datetime | None) -> str | None:
    """API timestamps: ISO-8601 UTC with milliseconds and ``Z``."""
    if value is None:
        return None
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; the busy timeout makes a second
    # writer wait for the lock instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn) -> None:
    conn.exec_driver_sql("BEGIN")


def _sqlite_begin_immediate(conn) -> None:
    # A deferred transaction that later writes can fail with "database is locked"
    # without waiting; taking the write lock up front serialises writers cleanly,
    # which is what keeps concurrent credit reservations exact on SQLite.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, immediate: bool = True) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30,
                          "isolation_level": None},
            pool_size=8,
            max_overflow=16,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin",
                     _sqlite_begin_immediate if immediate else _sqlite_begin)
        return engine

    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class WriteGate:
    """Admits a bounded number of write transactions into the thread pool at once.

    Sync endpoints and their commits run on a shared pool of threads. Writers
    that wait for a lock (SQLite's one write lock, a PostgreSQL row lock) inside
    a pool thread could occupy every thread, leaving the lock holder none to
    commit on. Waiting here instead happens in the event loop and holds no
    thread: on SQLite one writer at a time enters (they serialise anyway), on
    PostgreSQL fewer than the pool has threads.
    """

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._limiter: CapacityLimiter | None = None

    @property
    def limiter(self) -> CapacityLimiter:
        # Created on first use, inside the event loop that will wait on it.
        if self._limiter is None:
            self._limiter = CapacityLimiter(self.slots)
        return self._limiter

    async def run(self, func: Callable[..., T], *args) -> T:
        """Run a short write unit of work in a thread, once admitted."""
        async with self.limiter:
            return await anyio.to_thread.run_sync(func, *args)


class Database:
    """One engine and its session factory; owned by the runtime, shared by threads.

    On SQLite, read-only units of work get an engine of their own whose
    transactions start deferred: in WAL mode they read a snapshot beside the one
    writer instead of queueing for the write lock that ``BEGIN IMMEDIATE`` takes.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.read_engine = (
            make_engine(url, immediate=False) if self.is_sqlite else self.engine
        )
        self.read_sessionmaker = sessionmaker(self.read_engine,
                                              expire_on_commit=False)
        self.write_gate = WriteGate(1 if self.is_sqlite else POSTGRES_WRITERS)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """A unit of work: commits when the block ends cleanly, else rolls back.

        ``readonly`` sessions must not write: on SQLite a write there can fail
        with "database is locked" instead of waiting for the lock.
        """
        factory = self.read_sessionmaker if readonly else self.sessionmaker
        session = factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` after ``session``'s transaction commits (never on rollback)."""
    session.info.setdefault("on_commit", []).append(callback)


def on_rollback(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` if ``session``'s transaction rolls back (never on commit).

    For undoing what a transaction did outside the database, such as files
    written for rows that will now never exist.
    """
    session.info.setdefault("on_rollback", []).append(callback)


def _run(callbacks: list[Callable[[], None]], event_name: str) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:
            # The transaction has ended either way: a lost enqueue is recovered
            # by the sweep, a leftover file is harmless.
            log.exception(event_name, callback=repr(callback))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop("on_rollback", None)
    _run(session.info.pop("on_commit", []), "db.on_commit_failed")


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("on_commit", None)
    _run(session.info.pop("on_rollback", []), "db.on_rollback_failed")
