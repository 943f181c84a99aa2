"""What sealing each trial's payloads with a data key of its own costs, against the one configured key.

    .venv/bin/python -m bench.bench_codec [rounds] [payloads]

A realistic payload (a 30-piece trial's view as the projection sends it) is encoded and decoded `payloads`
times per round with each codec, interleaved A B A B over `rounds` rounds on one machine, so that drift
falls on both alike: A is the configured key only (as before crypto-shredding), B the trial's own key kept
in a SQLite key store and held by the process (the steady state of a worker). A third figure times the
first payload of a new trial, which makes and stores its key. Ends with `codec_ratio_trial_key=` (B / A,
median per payload) and `codec_first_payload_ms=`.
"""

import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

from temporalio.api.common.v1 import Payload
from temporalio.converter import WorkflowSerializationContext

from domain.examples import order
from domain.policy import TrialPolicy
from domain.trial import Trial
from domain.view import view_of
from persistence.db import make_engine
from persistence.erasure import SqlTrialKeys
from persistence.migrate import upgrade
from security.codec import EncryptionCodec, _KeyCache


def _payload() -> Payload:
    from datetime import UTC, datetime

    view = view_of(Trial(order(30), TrialPolicy(), datetime.now(UTC)))
    return Payload(metadata={"encoding": b"json/plain"}, data=view.model_dump_json().encode())


async def _round(codec: EncryptionCodec, payload: Payload, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        await codec.decode(await codec.encode([payload]))
    return (time.perf_counter() - t0) / n * 1e6  # µs per payload, encoded and decoded


async def main(rounds: int = 15, n: int = 2000) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-codec-"))
    url = f"sqlite:///{folder / 'keys.sqlite'}"
    upgrade(url)
    keys = {"k1": secrets.token_bytes(32)}
    store = SqlTrialKeys(make_engine(url))
    plain_codec = EncryptionCodec(keys, "k1")
    trial_codec = EncryptionCodec(keys, "k1", store=store, cache=_KeyCache()).with_context(
        WorkflowSerializationContext(namespace="default", workflow_id="style-trial-bench-1")
    )
    payload = _payload()
    await _round(trial_codec, payload, 1)  # its key made once, as a trial's first payload does
    a, b = [], []
    for _ in range(rounds):
        a.append(await _round(plain_codec, payload, n))
        b.append(await _round(trial_codec, payload, n))
    first = []
    for i in range(50):
        fresh = EncryptionCodec(keys, "k1", store=store, cache=_KeyCache()).with_context(
            WorkflowSerializationContext(namespace="default", workflow_id=f"style-trial-bench-new-{i}")
        )
        t0 = time.perf_counter()
        await fresh.encode([payload])
        first.append((time.perf_counter() - t0) * 1000)
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"payload {len(payload.data):,} bytes; {rounds} rounds of {n}, interleaved A B")
    print(f"  A configured key only      median {ma:7.1f} µs per payload (encode + decode)")
    print(f"  B the trial's own key      median {mb:7.1f} µs per payload (held by the process)")
    print(f"  first payload of a trial   median {statistics.median(first):7.2f} ms (its key made and stored)")
    print(f"codec_ratio_trial_key={mb / ma:.2f}")
    print(f"codec_first_payload_ms={statistics.median(first):.2f}")


if __name__ == "__main__":
    asyncio.run(main(*[int(a) for a in sys.argv[1:3]]))
