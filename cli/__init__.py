"""The `styletrial` command line."""
