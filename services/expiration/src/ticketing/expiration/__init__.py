"""The expiration worker: turns each order's ``expiresAt`` into an ``expiration.complete`` event.

No database: the schedule lives in Redis as arq jobs (one per order, job id derived from the
order id), so it survives a restart of the worker. Modules: ``config`` (settings), ``jobs``
(scheduling and the job that publishes), ``health`` (the probe server), ``worker`` (one process:
arq worker + NATS consumer + probes) and ``__main__`` (``python -m ticketing.expiration``).
"""
