"""``Idempotency-Key`` on every POST: the first result is stored and replayed to repeats.

The first request with a key claims it by inserting a row (unique per principal and key) and
commits that claim before doing anything; concurrent repeats see the claim, wait for the first
request to finish and replay its answer, so 50 concurrent requests with one key do the work
once. The same key with a different request is refused (422). Only successes are stored: a
request that fails leaves nothing behind (our operations have no effect when they fail), so its
key is released and a corrected retry may reuse it. A claim left by a crashed process is taken
over after ``idempotency_lock`` seconds.

A stored ``202`` (sent, not yet mined) is not the end of the story: a repeat asks the route's
``recheck`` to look at the chain again (and to send the transaction again if the node lost it),
and stores and answers what is true now.

An answer that carries a secret (a webhook endpoint's signing secret) is stored sealed
(:mod:`api.core.sealing`, ``sealed=True``): a repeat still gets it, the database never holds
it in clear.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.core.config import Settings
from api.core.errors import ApiError
from api.core.sealing import sealer_for
from api.deps import CurrentPrincipal, EngineDep, Principal, SettingsDep
from api.models import IdempotencyRecord, utcnow

REPLAY_HEADER = "Idempotent-Replayed"

Outcome = tuple[int, BaseModel]
PENDING_STATUS = 202


@dataclass(frozen=True)
class Stored:
    """A finished request's stored answer."""

    record_id: uuid.UUID
    status: int
    content: Any


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string (e.g. a UUID) to make this POST safe to retry: "
        "repeats get the first result; the same key with another request is refused.",
    ),
]


@dataclass
class Idempotency:
    engine: Any
    settings: Settings
    principal: Principal
    key: str | None
    method: str
    target: str

    def run(
        self,
        session: Session,
        body: BaseModel | None,
        operation: Callable[[], Outcome],
        *,
        recheck: Callable[[Any], Outcome] | None = None,
        sealed: bool = False,
    ) -> JSONResponse:
        """Run ``operation`` once per key; its DB writes in ``session`` commit with the result.

        ``recheck(stored_content)`` answers a repeat of a request whose stored answer was
        ``202`` (pending): what is true now, stored in place of it. ``sealed``: the answer
        holds a secret, store it sealed."""
        if self.key is None:
            status, model = operation()
            session.commit()
            return JSONResponse(jsonable_encoder(model), status_code=status)
        digest = self._digest(body)
        # End the request session's read transaction first: a request must never hold a
        # pooled connection while it waits for another (the claim, or a concurrent first).
        session.rollback()
        claimed = self._claim(digest)
        if isinstance(claimed, Stored):
            return self._replay(session, claimed, recheck)
        try:
            status, model = operation()
        except BaseException:
            session.rollback()
            self._release(claimed)
            raise
        content = jsonable_encoder(model)
        stored = json.dumps(content)
        if sealed:
            stored = sealer_for(self.settings).seal(stored)
        session.execute(
            update(IdempotencyRecord)
            .where(col(IdempotencyRecord.id) == claimed)
            .values(
                status_code=status,
                response_body=stored,
                response_sealed=sealed,
                completed_at=utcnow(),
            )
        )
        session.commit()
        return JSONResponse(content, status_code=status)

    def _digest(self, body: BaseModel | None) -> str:
        document = {
            "method": self.method,
            "target": self.target,
            "body": body.model_dump(mode="json") if body is not None else None,
        }
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()

    def _claim(self, digest: str) -> uuid.UUID | Stored:
        assert self.key is not None
        deadline = time.monotonic() + self.settings.idempotency_wait
        pause = 0.02
        while True:
            record = IdempotencyRecord(
                principal=self.principal.id,
                key=self.key,
                method=self.method,
                path=self.target[:500],
                request_hash=digest,
            )
            record_id = record.id  # made here; read after the commit it would cost a SELECT
            with Session(self.engine) as session:
                session.add(record)
                try:
                    session.commit()
                    return record_id
                except IntegrityError:
                    session.rollback()
                existing = session.exec(
                    select(IdempotencyRecord).where(
                        IdempotencyRecord.principal == self.principal.id,
                        IdempotencyRecord.key == self.key,
                    )
                ).first()
                if existing is None:
                    continue  # released (or expired) in the meantime: claim it
                if existing.request_hash != digest:
                    raise ApiError(
                        422,
                        "idempotency_key_reused",
                        f"Idempotency-Key {self.key!r} was used for a different request "
                        f"({existing.method} {existing.path}): use a new key for a new request",
                    )
                now = utcnow()
                if existing.status_code is not None:
                    finished = existing.completed_at or existing.created_at
                    if finished + timedelta(seconds=self.settings.idempotency_ttl) < now:
                        session.execute(
                            delete(IdempotencyRecord).where(
                                col(IdempotencyRecord.id) == existing.id
                            )
                        )
                        session.commit()
                        continue
                    return Stored(
                        existing.id,
                        existing.status_code,
                        json.loads(self._stored_body(existing)),
                    )
                stale = now - timedelta(seconds=self.settings.idempotency_lock)
                taken = session.execute(
                    update(IdempotencyRecord)
                    .where(
                        col(IdempotencyRecord.id) == existing.id,
                        col(IdempotencyRecord.status_code).is_(None),
                        col(IdempotencyRecord.created_at) < stale,
                    )
                    .values(created_at=now)
                )
                existing_id = existing.id
                session.commit()
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    return existing_id
            if time.monotonic() >= deadline:
                raise ApiError(
                    409,
                    "idempotency_in_progress",
                    f"a request with Idempotency-Key {self.key!r} is still being processed: "
                    "retry it shortly to get its result",
                    headers={"Retry-After": "1"},
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.25)

    def _replay(
        self, session: Session, stored: Stored, recheck: Callable[[Any], Outcome] | None
    ) -> JSONResponse:
        status, content = stored.status, stored.content
        if status == PENDING_STATUS and recheck is not None:
            status, model = recheck(content)
            content = jsonable_encoder(model)
            session.execute(
                update(IdempotencyRecord)
                .where(col(IdempotencyRecord.id) == stored.record_id)
                .values(
                    status_code=status, response_body=json.dumps(content), response_sealed=False
                )
            )
            session.commit()
        return JSONResponse(content, status_code=status, headers={REPLAY_HEADER: "true"})

    def _stored_body(self, record: IdempotencyRecord) -> str:
        body = record.response_body or "null"
        return sealer_for(self.settings).open(body) if record.response_sealed else body

    def _release(self, record_id: uuid.UUID) -> None:
        with Session(self.engine) as session:
            session.execute(delete(IdempotencyRecord).where(col(IdempotencyRecord.id) == record_id))
            session.commit()


def get_idempotency(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    key: IdempotencyKeyHeader = None,
) -> Idempotency:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Idempotency(engine, settings, principal, key, request.method, target)


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
