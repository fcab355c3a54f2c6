from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep, SessionDep
from api.index import index_head
from api.schemas import ChainStatus
from ledger.exceptions import LedgerError

router = APIRouter(prefix="/chain", tags=["chain"])


@router.get("/status")
def chain_status(session: SessionDep, services: ServicesDep) -> ChainStatus:
    """The chain head, the last indexed block and the index's lag behind the chain."""
    head = index_head(session)
    indexed = head.block_number if head else None
    chain_id = token = router_address = None
    block = None
    try:
        city = services.city
        chain_id = city.chain.chain_id
        token = city.token.address
        router_address = city.payments.address
        block = city.chain.block_number()
    except LedgerError:
        pass
    return ChainStatus(
        chain_id=chain_id,
        reachable=block is not None,
        head=block,
        indexed_block=indexed,
        lag=block - indexed if block is not None and indexed is not None else None,
        token=token,
        router=router_address,
        service_signer=services.service_address,
    )
