"""The fault campaign (`make soak`): the engine as separate processes, killed and restarted under load."""
