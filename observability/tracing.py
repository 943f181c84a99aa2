"""Traces: one trace from an HTTP request through the Temporal client, the workflow's update handler and the
activities it runs (the read-model projection included), exported by OTLP/HTTP when an endpoint is set.

- The API: OpenTelemetry's FastAPI instrumentation (one server span per request, route template as name).
- Temporal: the SDK's `TracingInterceptor` on the client, with one change (`CommandTracingInterceptor`). A
  worker built from that client inherits it; the context travels in Temporal headers, never in a payload.
  Out of the box the SDK puts a command's HandleUpdate span in the *workflow's* trace (the one its start
  began) with only a link to the request, and the activities the main loop runs because of the command
  there too. Staff and operators ask "what did this request do", so here a command's update handler and the
  activities started while it is in flight (the projection, a settlement) join the request's trace. With two
  commands in flight at once, activities go to the later one's trace.
- Nothing is exported unless `STYLETRIAL_OTLP_ENDPOINT` (or the standard OTEL_EXPORTER_OTLP_ENDPOINT) is
  set; spans are then batched in a background thread, so a slow collector never slows a request.

Span attributes carry ids (route, workflow id, activity type), never a body: the request and payloads hold
client data, and payloads are encrypted for that reason.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import opentelemetry.context
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio import workflow
from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor

# The SDK's tracing outbound interceptor is not exported, but subclassing the tracing interceptors is how its
# documentation says to change them. tests/e2e/test_observability.py fails if a new SDK changes this.
from temporalio.contrib.opentelemetry._interceptor import _TracingWorkflowOutboundInterceptor
from temporalio.worker import (
    HandleUpdateInput,
    StartActivityInput,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

SERVICE_NAME = "styletrial"


def tracer_provider(role: str, processor: SpanProcessor | None = None) -> TracerProvider:
    """A provider naming this process (`styletrial` + its role: api, worker, dev) with `processor` on it."""
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME, "service.instance.role": role}))
    if processor is not None:
        provider.add_span_processor(processor)
    return provider


def otlp_provider(endpoint: str, role: str) -> TracerProvider:
    """Spans batched to an OTLP/HTTP collector at `endpoint` (http://collector:4318), set as the global one."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = tracer_provider(role, BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")))
    trace.set_tracer_provider(provider)
    return provider


def temporal_interceptor(provider: TracerProvider | None) -> TracingInterceptor:
    """The interceptor for `Client.connect(interceptors=[...])`; workers built from the client inherit it."""
    tracer = provider.get_tracer(__name__) if provider is not None else trace.get_tracer(__name__)
    return CommandTracingInterceptor(tracer)


class CommandTracingInterceptor(TracingInterceptor):
    """The SDK's tracing, with a command's handling and its consequences in the request's trace."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        super().workflow_interceptor_class(input)  # registers the span-making functions the workflow calls out to
        return _CommandTracedWorkflow


class _CommandTracedWorkflow(TracingWorkflowInboundInterceptor):
    def __init__(self, next: WorkflowInboundInterceptor) -> None:
        super().__init__(next)
        # The trace contexts of the commands being handled, oldest first.
        self.commands: list[opentelemetry.context.Context] = []

    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        WorkflowInboundInterceptor.init(self, _CommandTracedOutbound(outbound, self))

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        header = input.headers.get(self.header_key)
        if header is None:
            return await super().handle_update_handler(input)
        carrier = self.payload_converter.from_payloads([header])[0]
        context = self._set_on_context(self.text_map_propagator.extract(carrier))
        token = opentelemetry.context.attach(context)
        self.commands.append(context)
        try:
            self._completed_span(f"HandleUpdate:{input.update}", kind=trace.SpanKind.SERVER)
            return await self.next.handle_update_handler(input)
        finally:
            self.commands.remove(context)
            opentelemetry.context.detach(token)


class _CommandTracedOutbound(_TracingWorkflowOutboundInterceptor):
    root: _CommandTracedWorkflow

    def start_activity(self, input: StartActivityInput) -> workflow.ActivityHandle[Any]:
        with self._in_the_latest_command():
            return super().start_activity(input)

    def start_local_activity(self, input: StartLocalActivityInput) -> workflow.ActivityHandle[Any]:
        with self._in_the_latest_command():
            return super().start_local_activity(input)

    @contextmanager
    def _in_the_latest_command(self) -> Iterator[None]:
        if not self.root.commands:
            yield
            return
        token = opentelemetry.context.attach(self.root.commands[-1])
        try:
            yield
        finally:
            opentelemetry.context.detach(token)


def instrument_api(app: FastAPI, provider: TracerProvider | None) -> None:
    """A server span per request, named by route template, in the same provider as the Temporal spans."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # The health checks are polled every few seconds by orchestrators: no trace for them. One span per request:
    # the per-message `http send`/`http receive` spans tripled the spans for nothing an operator reads (reads
    # ran at 0.65 of the untraced throughput with them, 0.72 without; bench/bench_observability.py).
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls="healthz,readyz", exclude_spans=["receive", "send"]
    )
