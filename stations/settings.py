"""Settings, read from the environment (and ``.env``), split by concern.

Nothing here is created at import time: call :func:`get_settings` (or build
:class:`Settings` yourself in tests) when a command or the app starts.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_PLACEHOLDER = "change-me-in-production"


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix, env_file=PROJECT_ROOT / ".env", extra="ignore", frozen=True
    )


class DatabaseSettings(BaseSettings):
    """Where the catalog lives.

    With no ``DATABASE_URL`` the project runs its own PostgreSQL + PostGIS cluster
    under ``data_dir`` (the "embedded default"); with it, everything talks to that
    database instead and the embedded cluster is never started.
    """

    model_config = _config("STATIONS_DB_")

    url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "STATIONS_DB_URL")
    )
    data_dir: Path = PROJECT_ROOT / ".data" / "pg"
    name: str = "stations"
    pool_min_size: int = Field(default=2, ge=1)
    pool_max_size: int = Field(default=10, ge=1)
    command_timeout_s: float = Field(default=30.0, gt=0)

    @property
    def embedded(self) -> bool:
        return self.url is None


class H3Settings(BaseSettings):
    """H3 resolutions by what they are used for.

    The catalog stores every station's cell at resolutions 7, 9 and 11 (columns
    ``h3_r7``, ``h3_r9``, ``h3_r11``); the names below pick among them so code never
    carries a bare resolution number.
    """

    model_config = _config("STATIONS_H3_")

    district: int = Field(default=7, description="~5 km² cells: city-wide summaries")
    neighbourhood: int = Field(default=9, description="~0.1 km² cells: coverage, privacy")
    street: int = Field(default=11, description="~2,000 m² cells: near-duplicate checks")
    coverage_default: int = Field(default=9, ge=7, le=10)
    visit_location: int = Field(
        default=9, description="claims and check-ins keep only this cell, never the point"
    )


class ApiSettings(BaseSettings):
    """The HTTP service."""

    model_config = _config("STATIONS_API_")

    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"


class SecuritySettings(BaseSettings):
    """Secrets. Placeholders are accepted only in development and are refused otherwise."""

    model_config = _config("STATIONS_")

    environment: Literal["development", "production"] = "development"
    admin_token: SecretStr = SecretStr(DEV_PLACEHOLDER)

    @model_validator(mode="after")
    def _no_placeholders_in_production(self) -> SecuritySettings:
        if self.environment != "development":
            for name, value in self:
                if isinstance(value, SecretStr) and value.get_secret_value() == DEV_PLACEHOLDER:
                    raise ValueError(
                        f"STATIONS_{name.upper()} still has the development placeholder; "
                        "set a real secret (e.g. `python -c 'import secrets; "
                        "print(secrets.token_urlsafe(32))'`)"
                    )
        return self


class Settings(BaseModel):
    """All settings, grouped by concern."""

    model_config = {"frozen": True}

    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    h3: H3Settings = Field(default_factory=H3Settings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)


@cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
