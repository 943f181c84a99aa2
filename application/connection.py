"""Connecting to Temporal as this engine does: its address and namespace, the data converter that encrypts
every payload, a patient retry while the server comes up. Kept apart from `bootstrap` (which builds every
adapter, the worker and the API) so that short commands (`styletrial trial show`) import only this."""

import asyncio
import dataclasses
import logging
import time
from collections.abc import Sequence

from temporalio.client import Client
from temporalio.client import Interceptor as ClientInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from config import Settings
from persistence.db import make_engine
from persistence.erasure import SqlTrialKeys
from security.codec import EncryptionCodec, decoded_keys, dev_keys
from security.fingerprint import Fingerprints
from security.links import Links

log = logging.getLogger("styletrial")


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic models as JSON, then encrypted: client data never reaches Temporal's history in clear."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec(settings))


def _keys(settings: Settings) -> tuple[dict[str, bytes], str]:
    """The configured keys and the active id, or in development a key kept in the data folder."""
    if settings.codec_keys:
        return decoded_keys(settings.codec_keys, settings.codec_key_id)
    return decoded_keys(*dev_keys(settings.data_dir))


def codec(settings: Settings) -> EncryptionCodec:
    """The payload codec: each trial's payloads under a data key of its own, kept in the engine's database
    (persistence/erasure.py), so that erasing a client can destroy them (security/codec.py)."""
    return EncryptionCodec(*_keys(settings), store=SqlTrialKeys(make_engine(settings.resolved_database_url)))


def fingerprints(settings: Settings) -> Fingerprints:
    """Keyed fingerprints (security/fingerprint.py) under the same keys as the payload codec."""
    return Fingerprints(*_keys(settings))


def client_links(settings: Settings) -> Links:
    """Links a client opens from a message (security/links.py), under the same keys as the payload codec."""
    return Links(*_keys(settings), settings.public_url)


async def connect(
    settings: Settings, *, patience: float | None = None, runtime: Runtime | None = None,
    interceptors: Sequence[ClientInterceptor] = (),
) -> Client:  # fmt: skip
    """Connect to Temporal, waiting for it to come up: a worker or API started before the server (a compose
    stack, a restart) waits and retries instead of exiting. `patience` seconds at most; None waits forever.
    `runtime` carries the SDK's metrics (`sdk_runtime`); `interceptors` its tracing (a worker built from the
    client inherits them)."""
    deadline = None if patience is None else time.monotonic() + patience
    delay = 0.5
    while True:
        try:
            return await Client.connect(
                settings.temporal_address, namespace=settings.temporal_namespace,
                data_converter=data_converter(settings), runtime=runtime, interceptors=interceptors,
            )  # fmt: skip
        except RuntimeError as err:  # the SDK's "Failed client connect"
            if deadline is not None and time.monotonic() + delay > deadline:
                raise
            log.warning("Temporal at %s is not reachable yet (%s); retrying in %.1f s",
                        settings.temporal_address, str(err).split(":")[0], delay)  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
