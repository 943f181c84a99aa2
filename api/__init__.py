"""The HTTP API for fulfilment systems and staff tools (DESIGN §7)."""
