"""An account's balance, points and history, from the index (own account only)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import and_, or_
from sqlmodel import col, select

from api.core import scopes
from api.core.errors import forbidden
from api.deps import AddressPath, CurrentPrincipal, SessionDep, checked_address
from api.index import index_head
from api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from api.schemas import AccountPublic, TransferPublic
from ledger.indexer.models import Account, Balance, Transfer
from ledger.types import AccountKind, AccountStatus

router = APIRouter(prefix="/accounts", tags=["accounts"])


def _readable(principal: CurrentPrincipal, address: str) -> str:
    account = checked_address(address)
    if not principal.may_read(scopes.ACCOUNTS_READ, account):
        raise forbidden("you may read only your own account")
    return account


@router.get("/{address}")
def get_account(
    address: AddressPath, principal: CurrentPrincipal, session: SessionDep
) -> AccountPublic:
    """An account's balance, token points and registration."""
    account = _readable(principal, address)
    balance = session.get(Balance, account)
    registration = session.get(Account, account)
    head = index_head(session)
    return AccountPublic(
        address=account,
        balance=balance.balance if balance else 0,
        points=balance.points if balance else 0,
        kind=_name(AccountKind, registration.kind) if registration else None,
        status=_name(AccountStatus, registration.status) if registration else None,
        district=registration.district if registration else None,
        indexed_block=head.block_number if head else None,
    )


@router.get("/{address}/history")
def account_history(
    address: AddressPath,
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[TransferPublic]:
    """Every token movement to or from the account, newest first."""
    account = _readable(principal, address)
    query = select(Transfer).where(
        or_(col(Transfer.sender) == account, col(Transfer.recipient) == account)
    )
    after = decode_cursor(cursor, (int, int))
    if after is not None:
        block, log_index = after
        query = query.where(
            or_(
                col(Transfer.block_number) < block,
                and_(col(Transfer.block_number) == block, col(Transfer.log_index) < log_index),
            )
        )
    rows = session.exec(
        query.order_by(col(Transfer.block_number).desc(), col(Transfer.log_index).desc()).limit(
            limit + 1
        )
    ).all()
    items = [
        TransferPublic(
            tx_hash=t.tx_hash,
            log_index=t.log_index,
            block_number=t.block_number,
            timestamp=t.timestamp,
            sender=t.sender,
            recipient=t.recipient,
            amount=t.amount,
            direction="self"
            if t.sender == t.recipient
            else ("out" if t.sender == account else "in"),
        )
        for t in rows[:limit]
    ]
    next_cursor = (
        encode_cursor(rows[limit - 1].block_number, rows[limit - 1].log_index)
        if len(rows) > limit
        else None
    )
    return Page[TransferPublic](items=items, next_cursor=next_cursor)


def _name(kind: type[AccountKind] | type[AccountStatus], value: int) -> str:
    try:
        return kind(value).name.lower()
    except ValueError:
        return str(value)
