"""The tickets service: tickets listed for sale, their owners, and whether an order holds them."""
