"""The one percentile every benchmark reports (nearest rank, no interpolation)."""


def ms(seconds: list[float], p: float) -> float:
    """The `p` quantile (0 < p < 1) of durations measured in seconds, in milliseconds."""
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000
