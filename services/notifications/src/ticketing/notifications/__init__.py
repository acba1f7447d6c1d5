"""The notifications worker: emails the people a purchase concerns, exactly once (DESIGN §2)."""
