"""Settings, read only by entry points (CLI, worker, API); everything else receives values."""

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STYLETRIAL_", extra="ignore")

    data_dir: Path = Path("data")
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "style-trial"
    temporal_ui_port: int = 8233
    # Default: a SQLite file in the data folder. Production: postgresql+psycopg://user@host/db
    database_url: str | None = None
    # Divides every policy duration (a demo runs a seven-day trial in minutes). 1 in production.
    time_scale: float = 1.0

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'styletrial.sqlite'}"
