"""Idempotency-Key on POST: a retried request returns the first response and changes nothing."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import Column, Table, Text
from sqlmodel import Field, Session, SQLModel

from mashcore.db import utc_column
from mashcore.problems import ProblemHTTPException
from mashcore.staged import stage

REPLAY_HEADER = "Idempotent-Replayed"


class IdempotencyRecord(SQLModel, table=True):
    """The first response to a (client, key) pair."""

    __tablename__ = "idempotency_key"

    client: str = Field(primary_key=True, max_length=200)
    key: str = Field(primary_key=True, max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int
    response_body: str = Field(sa_column=Column(Text, nullable=False))
    location: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_column=utc_column(index=True))  # retention purge


def fingerprint(payload: Any) -> str:
    """A stable hash of the validated request, independent of JSON formatting."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def replay(session: Session, *, client: str, key: str, request_hash: str) -> JSONResponse | None:
    """The stored response for a retried request, or None if the key is new.

    A key reused with a different request is refused: the client has a bug, and guessing which
    request it meant could lose a referral.
    """
    record = session.get(IdempotencyRecord, (client, key))
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise ProblemHTTPException(
            422,
            "Idempotency-Key reused",
            "This Idempotency-Key was already used for a different request.",
            extra={"errors": [{"field": "Idempotency-Key",
                               "message": "already used for a different request"}]},
        )
    headers = {REPLAY_HEADER: "true"}
    if record.location:
        headers["Location"] = record.location
    return JSONResponse(
        json.loads(record.response_body), status_code=record.status_code, headers=headers
    )


def remember(
    session: Session,
    *,
    client: str,
    key: str,
    request_hash: str,
    status_code: int,
    body: Any,
    location: str | None,
    at: datetime,
) -> None:
    """Stage the response in the same transaction as the effects it reports, written at its
    commit (``mashcore.staged``): a retry or a race that committed the key first fails that
    commit on the primary key, as an ORM flush of the row did."""
    stage(session, _IDEMPOTENCY, [{
        "client": client,
        "key": key,
        "request_hash": request_hash,
        "status_code": status_code,
        "response_body": json.dumps(body, default=str),
        "location": location,
        "created_at": at,
    }])


_IDEMPOTENCY: Table = IdempotencyRecord.__table__  # type: ignore[attr-defined]
