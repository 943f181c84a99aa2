"""How the workflow calls activities, and how a failure reaches the caller or the operator."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.errors import DomainError

# Transient failures (network, 5xx, rate limits) are retried without limit: giving up on a payment call
# half-way would leave money in an unknown state. Every call is idempotent by key, so retrying is safe.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=5)
)
TIMEOUT = timedelta(seconds=30)
# How a workflow task that failed on an activity's failure begins its message. A local activity (the
# projection) leaves no event of its own when it fails, so this is how recovery recognises it.
ACTIVITY_FAILED_FOR_GOOD = "activity failed for good:"


def task_failure(what: str, err: ActivityError | ApplicationError) -> RuntimeError:
    """Only a bug gets an activity here (transient errors retry forever, declines are results). Raising a
    plain exception fails the workflow *task*, never the workflow (an ActivityError left to propagate would
    fail the whole trial with its hold still at the gateway): the trial stays intact, flagged to staff, until
    it is recovered (styletrial trial recover, docs/durability.md)."""
    return RuntimeError(f"{ACTIVITY_FAILED_FOR_GOOD} {what}: {err.cause or err}")


def domain_failure(err: DomainError) -> ApplicationError:
    """A refused command as the caller sees it: `type` is the machine code, `message` the sentence."""
    return ApplicationError(err.message, {"code": err.code.value}, type=err.code.value, non_retryable=True)
