"""The query service: a denormalised read model of listings, orders and users, built from
every event on the bus, serving the web pages' reads (and rebuildable from the stream)."""
