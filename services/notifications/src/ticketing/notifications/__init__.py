"""The notifications worker: emails the people a purchase concerns, exactly once (DESIGN §2).

It keeps what its emails need from the bus (users' addresses, tickets' titles and sellers,
orders, payments), decides in ``domain`` which emails an event causes, queues them in its own
database in the event's transaction (``sent_mail``), and ``delivery`` hands them to an SMTP
relay. It serves no public route: only ``/healthz`` and ``/readyz`` for its probes.
"""
