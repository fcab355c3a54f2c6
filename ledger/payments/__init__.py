"""Merchant payments: invoices (orders), the fee split, refunds and settlement reports.

The rules here mirror ``contracts/src/payments/PaymentRouter.sol`` exactly; tests check the two
agree for every amount and rate.
"""
