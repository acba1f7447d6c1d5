"""The orders service: orders that reserve a ticket for a time window, and the replicated
tickets they reserve (kept from ticket events, in version order)."""
