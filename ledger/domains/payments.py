"""The payments domain: merchant payments through the PaymentRouter (invoices, the fee split
of the white paper, refunds, merchants' redemptions to the bank)."""

from __future__ import annotations

from ledger.domains.spec import ContractSpec, Domain
from ledger.roles import Role

PAYMENTS = Domain(
    name="payments",
    contracts=(
        ContractSpec(
            "PaymentRouter",
            "ledger.contracts.payments:PaymentRouter",
            lambda d: [
                d.address("CityAuthority"),
                d.address("CityToken"),
                d.address("ResidentRegistry"),
            ],
            roles={
                "setFeeSchedule": Role.MERCHANT_ADMIN,
                "setCategoryFee": Role.MERCHANT_ADMIN,
                "setMerchantCategory": Role.MERCHANT_ADMIN,
                "setMerchantFee": Role.MERCHANT_ADMIN,
                "confirmRedemption": Role.TREASURY,
                "rejectRedemption": Role.TREASURY,
                "withdrawCityFees": Role.TREASURY,
                "cancelInvoiceFor": Role.PAYMENT_OPERATOR,
            },
            city_service=True,
        ),
    ),
    roles=frozenset({Role.MERCHANT_ADMIN, Role.PAYMENT_OPERATOR}),
    projection="ledger.indexer.projections.payments:PaymentsProjection",
    commands="ledger.cli.payments:add_commands",
)
