"""The policy a trial starts with, by the client's tier and region: resolution order, scaling, and the
mistakes that stop the process at start-up."""

from datetime import timedelta

import pytest
from pydantic import ValidationError

from domain.policy import PolicyOverride, PolicyTable, TrialPolicy

DAY = timedelta(days=1)
TABLE = PolicyTable(
    overrides=(
        PolicyOverride(tier="EIP_PREMIUM", trial_days=10, extension_total_max_days=21, return_window=7 * DAY),
        PolicyOverride(region="JP", dispatch_sla=5 * DAY, return_window=5 * DAY),
        PolicyOverride(tier="EIP_PREMIUM", region="JP", return_window=10 * DAY),
    )
)


def test_a_client_with_no_override_gets_the_base_policy():
    assert TABLE.for_client("EIP", "UK") == TrialPolicy()


def test_a_tier_a_region_and_both_apply_the_most_specific_last():
    premium_uk = TABLE.for_client("EIP_PREMIUM", "UK")
    assert (premium_uk.trial_days, premium_uk.extension_total_max_days, premium_uk.return_window) == (10, 21, 7 * DAY)
    eip_jp = TABLE.for_client("EIP", "JP")
    assert (eip_jp.trial_days, eip_jp.dispatch_sla, eip_jp.return_window) == (7, 5 * DAY, 5 * DAY)
    premium_jp = TABLE.for_client("EIP_PREMIUM", "JP")
    # The region's hub SLA, the tier's trial, and the pair's own return window.
    assert (premium_jp.dispatch_sla, premium_jp.trial_days, premium_jp.return_window) == (5 * DAY, 10, 10 * DAY)


def test_a_scaled_table_scales_the_resolved_policy():
    fast = TABLE.model_copy(update={"scale": 86_400.0})
    assert fast.for_client("EIP_PREMIUM", "JP").return_window == timedelta(seconds=10)
    assert fast.for_client("EIP_PREMIUM", "JP").trial_days == 10  # counts are not durations


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ({"tier": "EIP_GOLD", "trial_days": 10}, "'EIP_GOLD' is not a tier"),
        ({"region": "JP", "dispatch_sla": -DAY}, "dispatch_sla must be positive"),
        ({"tier": "EIP", "dunning_schedule": (DAY, -DAY)}, "every dunning_schedule must be positive"),
        ({"tier": "EIP", "trial_days": 20}, "trial_days (20) is more than max_trial_days (14)"),
        ({"region": "JP"}, "changes nothing"),
        ({"trial_days": 9}, "names neither a tier nor a region"),
        ({"tier": "EIP", "extension_max_days": 0}, "extension_max_days must be at least 1"),
    ],
)
def test_a_mistake_in_the_table_is_named(override: dict[str, object], says: str):
    with pytest.raises(ValidationError, match=says.replace("(", r"\(").replace(")", r"\)")):
        PolicyTable(overrides=(PolicyOverride.model_validate(override),))


def test_the_same_tier_and_region_twice_is_a_mistake():
    with pytest.raises(ValidationError, match="given twice"):
        PolicyTable(overrides=(PolicyOverride(region="JP", trial_days=8), PolicyOverride(region="JP", trial_days=9)))
