"""All I/O the workflow needs, each behind a small port with an embedded default adapter."""
