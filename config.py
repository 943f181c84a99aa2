"""Settings, read only by entry points (CLI, worker, API); everything else receives values."""

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.bounds import SUBSCRIBER_NAME_PATTERN
from domain.order import Address
from domain.policy import PolicyOverride, PolicyTable, TrialPolicy
from security.webhook_signing import key_of

# `shopper`: a personal shopper signed in with their own token, who reads their own clients only.
ROLES = ("fulfilment", "support", "read", "shopper")


class WebhookSubscriber(BaseModel):
    """A system that receives the trial events (docs/integrations.md)."""

    name: str = Field(pattern=SUBSCRIBER_NAME_PATTERN)
    url: str = Field(pattern=r"^https?://", max_length=2000)
    # One secret, or two during a rotation (each message is then signed with both). Never logged.
    secrets: list[SecretStr] = Field(min_length=1, max_length=2, repr=False)

    @field_validator("secrets")
    @classmethod
    def _are_secrets(cls, value: list[SecretStr]) -> list[SecretStr]:
        for secret in value:
            key_of(secret.get_secret_value())
        return value


# How long a webhook delivery waits after each failed attempt: 5 s doubling to 43 minutes, then hourly: 33
# retries over about a day (24.4 h); then the delivery is dead and staff see it (GET /v1/webhooks).
DEFAULT_WEBHOOK_BACKOFF = [5.0 * 2**i for i in range(10)] + [3600.0] * 23


class Settings(BaseSettings):
    # Nested values by double underscore: STYLETRIAL_POLICY__RETURN_WINDOW=P3D, STYLETRIAL_POLICY__TRIAL_DAYS=7
    # An empty variable is as good as unset (compose passes `${X:-}` through as "").
    model_config = SettingsConfigDict(
        env_prefix="STYLETRIAL_", env_nested_delimiter="__", extra="ignore", env_ignore_empty=True
    )

    data_dir: Path = Path("data")
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "style-trial"
    temporal_ui_port: int = 8233
    # The memory a worker may spend on trials it keeps cached (a cached trial takes its next command without
    # replaying its history; an evicted one replays it first, a few milliseconds). It sizes the cache:
    # this budget / bootstrap.CACHED_TRIAL_KIB trials, measured per cached open trial by bench/bench_memory.py.
    worker_cache_mib: int = Field(default=256, ge=16, le=65_536)
    # Default: a SQLite file in the data folder. Production: postgresql+psycopg://user@host/db
    database_url: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # How many new trials one API process has opening at a time: from the start until its worker has
    # authorized it and reserved its stock (or 10 s). The rest of a wave (an order system's morning batch)
    # waits its turn in the API. Unbounded, a wave of 150 starts queued in the Temporal server and the worker
    # ahead of every client's command (docs/performance.md, "A wave of starts").
    api_starts_in_flight: int = Field(default=8, ge=1, le=1_000)
    # {"token": "role"}, role one of fulfilment, support, read. Never logged.
    api_tokens: dict[str, str] = Field(default_factory=dict, repr=False)
    # Every duration and limit of the lifecycle; new trials take it in their input (replay never reads it).
    policy: TrialPolicy = TrialPolicy()
    # What tiers and regions get differently, JSON: [{"tier": "EIP_PREMIUM", "trial_days": 10,
    # "extension_total_max_days": 21, "return_window": "P7D"}, {"region": "JP", "dispatch_sla": "PT72H"}]
    # (docs/operations.md). Checked at start-up: a mistake stops the process with a sentence.
    policies: list[PolicyOverride] = Field(default_factory=list, max_length=200)
    # Divides every policy duration (a demo runs a seven-day trial in minutes). 1 in production.
    time_scale: float = Field(default=1.0, gt=0)
    # Payload encryption: {"key-id": "<base64 32 bytes>"}; the active id encrypts, every key decrypts.
    # Unset: a key kept in the data folder (the local stack). Production must set these.
    codec_keys: dict[str, str] = Field(default_factory=dict, repr=False)
    codec_key_id: str | None = None
    # Lets a UI that cannot send an Authorization header reach the codec server: /codec/<key>/decode.
    # `styletrial dev` only: a UI serves its codec endpoint, key included, to anyone who can reach it.
    codec_ui_key: str | None = Field(default=None, repr=False)
    # Production: staff sign in to the Temporal UI with the company's OpenID Connect provider and the UI
    # passes their access token to the codec server, which decodes for tokens carrying the support role.
    codec_oidc_jwks_url: str | None = None
    codec_oidc_issuer: str | None = None
    codec_oidc_audience: str | None = None
    codec_oidc_role_claim: str = "groups"
    codec_oidc_support_role: str = "styletrial-support"
    # The payment gateway: "simulated" (embedded, its state in the engine's database) or "stripe".
    payments: Literal["simulated", "stripe"] = "simulated"
    # A restricted Stripe key (sk_live_/rk_live_ in production); never logged, never in the repository.
    stripe_api_key: SecretStr | None = None
    # Stripe's API by default; a localstripe or a proxy for tests.
    stripe_api_base: str = "https://api.stripe.com"
    # Where stock is reserved: "database" (embedded: the engine's database, any worker releases what another
    # reserved) or "http" (the warehouse's API at stock_url, contract in docs/integrations.md).
    stock: Literal["database", "http"] = "database"
    stock_url: str | None = Field(default=None, pattern=r"^https?://", max_length=2000)
    stock_token: SecretStr | None = None
    # Returns the client does not organise (docs/integrations.md): "local" (embedded: labels rendered here,
    # collections kept in the database) or "easypost" (return shipments and pickups through EasyPost).
    returns: Literal["local", "easypost"] = "local"
    # Where returns go (the warehouse), JSON like an order's shipping address. Unset: the demo's warehouse.
    returns_address: Address | None = None
    easypost_api_key: SecretStr | None = None
    easypost_api_base: str = Field(default="https://api.easypost.com/v2", pattern=r"^https?://", max_length=2000)
    # The secret EasyPost signs its tracking webhooks with (X-Hmac-Signature); unset: the route refuses all.
    easypost_webhook_secret: SecretStr | None = None
    # Carriers' tracking pages beside the built-in ones (activities/messages.py, TRACKING_PAGES), JSON:
    # {"brt": "https://vas.brt.it/vas/sped_det_show.hsm?referer=sped_numspe_par.htm&Nspediz={tracking}"}
    tracking_pages: dict[str, str] = Field(default_factory=dict, max_length=200)
    # The address clients reach the API at, for the links in their messages (a return label).
    public_url: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://[^\s]+$", max_length=300)
    # Messages to clients (docs/integrations.md). WhatsApp Business Cloud API: the sending number's id and a
    # system user's token; email over SMTP. Unset: messages to clients are only recorded.
    whatsapp_api_base: str = Field(default="https://graph.facebook.com/v21.0", pattern=r"^https?://")
    whatsapp_phone_number_id: str | None = None
    whatsapp_token: SecretStr | None = None
    # The inbound webhook (replies): the app secret Meta signs with, and the token of its handshake.
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_from: str | None = None
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    # Who on the team hears by email: a shopper's id (from the orders) or "staff", to an address. JSON.
    team_emails: dict[str, str] = Field(default_factory=dict, max_length=10_000, repr=False)
    # The weekly buying digest (activities/digest.py): who gets it, addresses separated by commas (unset: the
    # schedule is not created), and the zone of its time, Monday 07:00.
    buying_digest_to: str | None = Field(default=None, max_length=2000, repr=False)
    buying_digest_time_zone: str = Field(default="UTC", max_length=64)
    # Webhook subscribers, JSON: [{"name": "oms", "url": "https://...", "secrets": ["whsec_..."]}]
    webhooks: list[WebhookSubscriber] = Field(default_factory=list, max_length=20, repr=False)
    # Seconds between a delivery's attempts (see DEFAULT_WEBHOOK_BACKOFF); its length is the attempts.
    webhook_backoff: list[float] = Field(default_factory=lambda: list(DEFAULT_WEBHOOK_BACKOFF), min_length=1)

    # Where staff open the Temporal UI (https://temporal.example.com): the one origin whose pages may call the
    # codec server from a browser. Unset: the local dev UI on temporal_ui_port.
    ui_origin: str | None = Field(default=None, pattern=r"^https?://[^/]+$", max_length=300)
    # People calling the API with their own OpenID Connect access tokens (beside the machines' static
    # tokens): the provider's JWKS, issuer and audience; the claim holding their groups, and which group
    # gives which role (first match wins); the claim naming them in the audit trail. Unset: static only.
    api_oidc_jwks_url: str | None = Field(default=None, pattern=r"^https?://", max_length=2000)
    api_oidc_issuer: str | None = None
    api_oidc_audience: str | None = None
    api_oidc_role_claim: str = "groups"
    api_oidc_roles: dict[str, str] = Field(
        default_factory=lambda: {
            "styletrial-support": "support", "styletrial-fulfilment": "fulfilment", "styletrial-read": "read",
            "styletrial-shopper": "shopper",
        },
    )  # fmt: skip
    api_oidc_actor_claim: str = "sub"
    # Logs: "json" (one object per line, for a log pipeline) or "console" (readable; `styletrial dev`).
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Prometheus: the engine's metrics at http://metrics_host:metrics_port/metrics, and the Temporal SDK's
    # (workflow task latency, schedule-to-start, cache) at sdk_metrics_port. Unset: not served.
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    sdk_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Traces to an OpenTelemetry collector over OTLP/HTTP (http://collector:4318). Unset: not exported.
    # The standard OTEL_EXPORTER_OTLP_ENDPOINT is read too.
    otlp_endpoint: str | None = Field(
        default=None, pattern=r"^https?://", max_length=2000,
        validation_alias=AliasChoices("STYLETRIAL_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    )  # fmt: skip

    @field_validator("api_oidc_roles")
    @classmethod
    def _are_roles(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = sorted(role for role in value.values() if role not in ROLES)
        if wrong:
            raise ValueError(f"api_oidc_roles maps groups to {wrong}; a role is one of {', '.join(ROLES)}")
        return value

    @property
    def digest_recipients(self) -> list[str]:
        return [a.strip() for a in (self.buying_digest_to or "").split(",") if a.strip()]

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'styletrial.sqlite'}"

    @property
    def resolved_policy(self) -> TrialPolicy:
        """The base policy, scaled: what a client of no particular tier or region override gets."""
        return self.policy.scaled(self.time_scale)

    @property
    def policy_table(self) -> PolicyTable:
        return PolicyTable(base=self.policy, overrides=tuple(self.policies), scale=self.time_scale)

    @model_validator(mode="after")
    def _policies_hold(self) -> "Settings":
        self.policy_table  # noqa: B018 (builds and checks the table: a mistake stops the process here)
        return self

    @property
    def ui_origins(self) -> list[str]:
        if self.ui_origin:
            return [self.ui_origin]
        return [f"http://127.0.0.1:{self.temporal_ui_port}", f"http://localhost:{self.temporal_ui_port}"]
