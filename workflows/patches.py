"""The workflow's patches (`workflow.patched`): each marks where the workflow's code changed in a way that
would break the trials already running. A trial records a patch's marker the first time its code asks, and
keeps the old path when its history has no marker. `styletrial patches` reports, per patch, how many open
trials still take the old path; docs/architecture.md, "Retiring a patch", says when one may go.
"""

# Trials started before the read model existed never projected; replaying them must not start now.
PATCH_READ_MODEL = "read-model-projection"
# Trials started before search attributes were kept current never upserted them.
PATCH_SEARCH_ATTRIBUTES = "search-attributes"
# Trials started before the history clock decided with `workflow.now()` after every wake-up
# (workflows/replay_guard.py, `wake_clock`).
PATCH_HISTORY_CLOCK = "history-clock"
# Trials started before a Temporal cancellation request became the domain's cancel ended CANCELED, hold and all.
PATCH_CANCEL_REQUEST = "cancel-request-is-a-command"
# Trials started before the projection carried only what changed sent the whole view every time.
PATCH_LEAN_PROJECTION = "lean-projection"
# Trials started before the lean events restarted their deadline timer on every command and projected with
# a (regular) activity: three events and another workflow task more per change than a local activity's marker.
PATCH_LEAN_EVENTS = "lean-events"
# Trials started before it sent the client no confirmation and no summary (two more notifications each).
PATCH_CLIENT_MESSAGES = "client-messages"
# Trials started before it ended at completion; since, a trial that charged something stays open for the
# policy's refund window after it completes, so that support can refund a piece (a `refund` update).
PATCH_REFUND_WINDOW = "refund-window"

# Trials started before it told the client nothing along the way: no parcel sent, no trial started.
PATCH_CLIENT_JOURNEY = "client-journey"

# Trials started before it did not tell the client that a return is with the carrier.
PATCH_RETURN_JOURNEY = "return-journey"

# Trials started before it ended with their attention still flagged (a carrier claim on a cancelled trial
# stayed in the queue for ever, with no workflow left to clear it); since, a trial waits for staff to see
# to what it needs them for before its workflow ends.
PATCH_ATTENTION_KEEPS_OPEN = "attention-keeps-open"

# Trials started before it started (or cancelled) its deadline timer after the read model's report, a local
# activity; since, before it. The SDK can hand the workflow a local activity's result one task after the
# task that recorded it (when it answered a query while the activity ran), and any replay hands it over in
# that first task: a command made after the result then lands before an update that came in between, and
# the trial can never replay again (docs/durability.md, "A query answered while the projection ran").
PATCH_TIMER_BEFORE_REPORT = "timer-before-report"

# Every patch, oldest first.
PATCHES = (
    PATCH_READ_MODEL, PATCH_SEARCH_ATTRIBUTES, PATCH_HISTORY_CLOCK, PATCH_CANCEL_REQUEST, PATCH_LEAN_PROJECTION,
    PATCH_LEAN_EVENTS, PATCH_CLIENT_MESSAGES, PATCH_REFUND_WINDOW, PATCH_CLIENT_JOURNEY, PATCH_RETURN_JOURNEY,
    PATCH_ATTENTION_KEEPS_OPEN, PATCH_TIMER_BEFORE_REPORT,
)  # fmt: skip
