"""Payment requests: an EIP-681 URI for a token transfer, and its QR code as terminal text.

``ethereum:<token>@<chainId>/transfer?address=<recipient>&uint256=<amount>`` asks a wallet to
call ``transfer(recipient, amount)`` on the token; the amount is in token units, which for the
city token (0 decimals) are whole won.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from ledger.types import parse_address
from wallet_cli.errors import WalletError

_URI = re.compile(r"^ethereum:(?P<token>0x[0-9a-fA-F]{40})@(?P<chain>\d+)/transfer\?(?P<query>.+)$")


@dataclass(frozen=True)
class PaymentRequest:
    token: str
    chain_id: int
    recipient: str
    amount: int | None = None

    def uri(self) -> str:
        query = f"address={self.recipient}"
        if self.amount is not None:
            query += f"&uint256={self.amount}"
        return f"ethereum:{self.token}@{self.chain_id}/transfer?{query}"


def parse_payment_uri(uri: str) -> PaymentRequest:
    """The request a URI from :meth:`PaymentRequest.uri` stands for (WalletError otherwise)."""
    match = _URI.match(uri)
    if not match:
        raise WalletError(f"not an EIP-681 token transfer URI: {uri!r}")
    query = parse_qs(match["query"], strict_parsing=True)
    try:
        [recipient] = query["address"]
    except (KeyError, ValueError):
        raise WalletError(f"{uri!r} names no single recipient address") from None
    amounts = query.get("uint256", [])
    if len(amounts) > 1 or (amounts and not amounts[0].isdigit()):
        raise WalletError(f"{uri!r} has an invalid uint256 amount")
    return PaymentRequest(
        parse_address(match["token"]),
        int(match["chain"]),
        parse_address(recipient),
        int(amounts[0]) if amounts else None,
    )


_HALF_BLOCKS = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def qr_text(data: str, *, border: int = 2) -> str:
    """``data`` as a QR code drawn with half blocks, two module rows per text line.

    Light modules are drawn (terminal foreground), dark ones left blank, which reads as a normal
    QR code on the usual light-on-dark terminal; scanners also accept the inverse.
    """
    import segno  # only `receive` draws QR codes

    rows = [
        [not bool(module) for module in row]
        for row in segno.make(data, error="m", micro=False).matrix_iter(scale=1, border=border)
    ]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    return "\n".join(
        "".join(_HALF_BLOCKS[(top, bottom)] for top, bottom in zip(upper, lower, strict=True))
        for upper, lower in zip(rows[::2], rows[1::2], strict=True)
    )
