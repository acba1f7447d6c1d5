"""The HTML pages, one module per area: auth, tickets, orders."""
