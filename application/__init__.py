"""What API handlers and the CLI use to talk to trials: Temporal behind domain-shaped calls."""
