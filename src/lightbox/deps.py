"""FastAPI dependencies shared by every router: the runtime and the unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from functools import partial
from typing import Annotated

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from lightbox.runtime import Runtime

READ_METHODS = frozenset({"GET", "HEAD"})

# Threads reserved for ending transactions (commit, rollback, close).
SETTLE_THREADS = 8


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def _settle_limiter(request: Request) -> CapacityLimiter:
    state = request.app.state
    if getattr(state, "settle_limiter", None) is None:
        state.settle_limiter = CapacityLimiter(SETTLE_THREADS)
    return state.settle_limiter


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request, committed when the endpoint returns.

    ``scope="function"`` below makes the commit happen before the response is
    sent, so a client that polls right after a 200 sees what it created. GET
    and HEAD only read, so they get a read-only session (see ``Database``).

    A writing request first passes the database's ``WriteGate`` (waiting in the
    event loop, not in a thread), and its commit runs on threads of its own: a
    transaction that holds the write lock (SQLite) or a row lock (PostgreSQL)
    must always find a thread to finish on, or requests occupying every pool
    thread while waiting for that very lock would stall until the lock timeout.
    """
    readonly = request.method in READ_METHODS
    db = request.app.state.runtime.db
    session = (db.read_sessionmaker if readonly else db.sessionmaker)()
    settle = partial(anyio.to_thread.run_sync, limiter=_settle_limiter(request))
    async with AsyncExitStack() as stack:
        if not readonly:
            await stack.enter_async_context(db.write_gate.limiter)
        try:
            yield session
            await settle(session.commit)
        except BaseException:
            await settle(session.rollback)
            raise
        finally:
            await settle(session.close)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
