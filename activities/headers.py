"""Values the engine puts in the headers of outgoing requests and messages: idempotency keys (to Stripe, to
the warehouse) and email Message-IDs. They name the trial, and an order id may be any script's letters
(`注文-1`, `h-٣٤`), which no HTTP or mail header can carry: httpx, the Stripe SDK and Python's email package
all failed on them with UnicodeEncodeError, and the activity retried that for ever.

Characters outside ASCII are percent-encoded. An ASCII key, which is every key the engine made before
non-ASCII order ids were tried, is sent exactly as it is: a retry of an older movement keeps its key, and
the receiver's idempotency still holds. No id holds a %, so the encoding cannot meet an ASCII key it would
confuse with one (domain.bounds).
"""

from urllib.parse import quote

# Every printable ASCII character but % (and space) stays as it is.
_SAFE = "".join(chr(c) for c in range(33, 127) if chr(c) != "%")


def ascii_header(value: str) -> str:
    return value if value.isascii() else quote(value, safe=_SAFE)
