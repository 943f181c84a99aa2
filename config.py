"""Settings, read only by entry points (CLI, worker, API); everything else receives values."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.policy import TrialPolicy

ROLES = ("fulfilment", "support", "read")


class Settings(BaseSettings):
    # Nested values by double underscore: STYLETRIAL_POLICY__RETURN_WINDOW=P3D, STYLETRIAL_POLICY__TRIAL_DAYS=7
    model_config = SettingsConfigDict(env_prefix="STYLETRIAL_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Path("data")
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "style-trial"
    temporal_ui_port: int = 8233
    # Default: a SQLite file in the data folder. Production: postgresql+psycopg://user@host/db
    database_url: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # {"token": "role"}, role one of fulfilment, support, read. Never logged.
    api_tokens: dict[str, str] = Field(default_factory=dict, repr=False)
    # Every duration and limit of DESIGN §2-3; new trials take it in their input (replay never reads it).
    policy: TrialPolicy = TrialPolicy()
    # Divides every policy duration (a demo runs a seven-day trial in minutes). 1 in production.
    time_scale: float = Field(default=1.0, gt=0)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'styletrial.sqlite'}"

    @property
    def resolved_policy(self) -> TrialPolicy:
        return self.policy.scaled(self.time_scale)
