"""FastAPI dependencies shared by every router: the runtime and the unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from lightbox.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


READ_METHODS = frozenset({"GET", "HEAD"})


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed when the endpoint returns.

    ``scope="function"`` below makes the commit happen before the response is
    sent, so a client that polls right after a 200 sees what it created. GET
    and HEAD only read, so they get a read-only session (see ``Database``).
    """
    readonly = request.method in READ_METHODS
    with request.app.state.runtime.db.session(readonly=readonly) as session:
        yield session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
