"""Taking back a vote: the image picker's undo.

``service.vote`` only sets APPROVED or REJECTED, as the API does; a person in the
picker can also undo a vote, which returns the record to "not voted yet".
"""

from __future__ import annotations

import structlog
from sqlalchemy.orm import Session

from lightbox.generation.models import Record
from lightbox.generation.service import get_record

log = structlog.get_logger(__name__)


def clear_vote(session: Session, *, team_id: str, record_id: str) -> Record:
    """Forget the record's vote; a rejected record comes back out of the archive."""
    record = get_record(session, team_id=team_id, record_id=record_id)
    record.voting = None
    record.archived = False
    session.flush()
    log.info("record.vote_cleared", record_id=record.id, team_id=team_id)
    return record
