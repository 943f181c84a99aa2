"""The HTTP API for fulfilment systems and staff tools."""
