"""The payments service: charges orders through Stripe and announces ``payment.created``.

It owns payments and keeps a replica of orders (from ``order.*`` events) to know who may pay
what, how much, and whether the order is still payable.
"""
