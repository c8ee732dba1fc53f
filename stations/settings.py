"""Settings, read from the environment (and ``.env``), split by concern.

Nothing here is created at import time: call :func:`get_settings` (or build
:class:`Settings` yourself in tests) when a command or the app starts, and pass the
groups down. ``.env`` is read from the current directory, and relative paths are
taken from it, so an installed ``stations`` works from any folder.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_PLACEHOLDER = "change-me-in-production"
MIN_SECRET_BYTES = 32


def strong_enough(secret: str) -> bool:
    """At least 32 bytes, and not a few characters repeated (``aaaa…``, ``abab…``)."""
    return len(secret.encode()) >= MIN_SECRET_BYTES and len(set(secret)) >= 10


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore", frozen=True)


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
    # A read-only replica (a streaming standby of the primary) for the reads that may be
    # a moment behind: station search, tiles, OGC API, coverage, the in-process index.
    # Unset: every read goes to the primary (one pool). `stations db replica up` starts
    # one of the project-local cluster and prints its URL.
    read_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_READ_URL", "STATIONS_DB_READ_URL"),
    )
    # How long the index waits for the replica to replay a change it was notified of
    # before it reads that change from the primary instead.
    read_lag_wait_s: float = Field(default=5.0, ge=0, le=300)
    # Relative to the directory the command starts in (``make run`` and ``make test``
    # run from the checkout); made absolute at once, so a later chdir changes nothing.
    data_dir: Path = Field(default=Path(".data/pg"), validate_default=True)
    name: str = "stations"
    pool_min_size: int = Field(default=2, ge=1)
    pool_max_size: int = Field(default=10, ge=1)
    command_timeout_s: float = Field(default=30.0, gt=0)
    # A request or claim batch waits this long for a free pool connection, then answers
    # 503 database_unavailable instead of waiting for ever.
    pool_acquire_timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.absolute()

    @property
    def embedded(self) -> bool:
        return self.url is None

    @property
    def has_replica(self) -> bool:
        """Whether reads that may lag go to a replica (else the primary serves them)."""
        return self.read_url is not None


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
    claim_batch_max: int = Field(
        default=32, ge=1, le=500, description="most water claims decided in one transaction"
    )
    claim_batches_in_flight: int = Field(
        default=2, ge=1, le=100, description="claim transactions a worker runs at once"
    )
    # Addresses whose X-Forwarded-Proto / X-Forwarded-For uvicorn believes (`stations
    # serve` passes them as forwarded_allow_ips): a staff cookie is marked Secure when the
    # request came over TLS, and sign-in attempts are throttled by the client's address.
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1"])
    # The edge (api/guard.py): larger bodies are refused with 413 while they stream in,
    # larger header sets with 431, before any route runs.
    max_body_bytes: int = Field(default=1_000_000, ge=1_000, description="request body cap")
    batch_body_bytes: int = Field(
        default=4_000_000, ge=1_000, description="body cap of nearest:batch (10,000 points)"
    )
    max_headers: int = Field(default=100, ge=10, le=10_000)
    max_header_bytes: int = Field(default=65_536, ge=4_096)

    # Expensive requests (nearest:batch, coverage): a token's average rate and burst,
    # shared by every worker (the throttles table), the work they may ask for, and how
    # many of them a worker computes at once (in threads, off the event loop).
    heavy_per_minute: float = Field(default=30, gt=0, le=100_000)
    heavy_burst: int = Field(default=10, ge=1, le=100_000)
    heavy_threads: int = Field(default=1, ge=1, le=64)
    batch_max_results: int = Field(
        default=50_000, ge=100, description="nearest:batch points × k (10,000 points at k=5)"
    )

    # /docs (Swagger UI from the service's own files): "auto" is on in development and
    # off in production.
    docs: Literal["auto", "on", "off"] = "auto"

    def body_limits(self) -> dict[str, int]:
        """Paths whose body may be larger than ``max_body_bytes``, with their caps."""
        return {"/v1/stations/nearest:batch": self.batch_body_bytes}


class SecuritySettings(BaseSettings):
    """Secrets. Placeholders are accepted only in development and are refused otherwise."""

    model_config = _config("STATIONS_")

    environment: Literal["development", "production"] = "development"
    admin_token: SecretStr = SecretStr(DEV_PLACEHOLDER)
    # Key of the keyed hash (HMAC-SHA256) that phone numbers and claim-request
    # fingerprints are stored as; changing it invalidates every stored phone hash.
    pii_hash_key: SecretStr = SecretStr(DEV_PLACEHOLDER)
    # QR signing keys by key id (JSON: {"k2": "…", "k1": "…"}). The first active key signs
    # new posters; every active key verifies; codes signed with a retired key are refused.
    qr_keys: dict[str, SecretStr] = Field(
        default_factory=lambda: {"k1": SecretStr(DEV_PLACEHOLDER)}
    )
    qr_active_keys: list[str] = Field(default_factory=lambda: ["k1"], min_length=1)
    qr_retired_keys: list[str] = Field(default_factory=list)
    member_token_days: int = Field(default=30, ge=1, le=366)
    staff_token_days: int = Field(default=180, ge=1, le=3660)
    # How long a worker process trusts a token it has already looked up. A revocation
    # empties every worker's cache at once (stations/people/revocations.py), and claims
    # re-check the token in their own transaction; this bounds what a missed notice costs.
    principal_cache_seconds: float = Field(default=10.0, ge=0, le=300)

    @model_validator(mode="after")
    def _no_placeholders_in_production(self) -> SecuritySettings:
        if self.environment != "development":
            for name, value in self:
                secrets_ = value.items() if isinstance(value, dict) else [(None, value)]
                for key, secret in secrets_:
                    if (
                        isinstance(secret, SecretStr)
                        and secret.get_secret_value() == DEV_PLACEHOLDER
                    ):
                        which = f"STATIONS_{name.upper()}" + (f" (key {key!r})" if key else "")
                        raise ValueError(
                            f"{which} still has the development placeholder; "
                            "set a real secret (e.g. `python -c 'import secrets; "
                            "print(secrets.token_urlsafe(32))'`)"
                        )
                    if isinstance(secret, SecretStr) and not strong_enough(
                        secret.get_secret_value()
                    ):
                        which = f"STATIONS_{name.upper()}" + (f" (key {key!r})" if key else "")
                        raise ValueError(
                            f"{which} is too weak for production: use at least "
                            f"{MIN_SECRET_BYTES} random bytes (e.g. `python -c 'import secrets; "
                            "print(secrets.token_urlsafe(32))'`)"
                        )
        return self

    @model_validator(mode="after")
    def _qr_keys_consistent(self) -> SecuritySettings:
        for key_id in [*self.qr_keys, *self.qr_retired_keys]:
            if not re.fullmatch(r"[a-z0-9]{1,8}", key_id):
                raise ValueError(f"QR key id {key_id!r}: use 1-8 lowercase letters or digits")
        missing = [k for k in self.qr_active_keys if k not in self.qr_keys]
        if missing:
            raise ValueError(
                f"STATIONS_QR_ACTIVE_KEYS names {missing} "
                "but STATIONS_QR_KEYS has no secret for them"
            )
        both = sorted(set(self.qr_active_keys) & set(self.qr_retired_keys))
        if both:
            raise ValueError(f"QR keys {both} are listed both as active and as retired")
        return self


class StaffSettings(BaseSettings):
    """Staff sign-in in a browser: sessions, one-time password links, throttled attempts.

    A failed attempt counts against the account name and against the client's address.
    The first ``attempts_free`` failures of a name cost nothing, then each waits twice as
    long as the one before (1 s, 2 s, 4 s … at most a minute), and ``attempts_lockout``
    failures lock the name for ``lockout_minutes``. An address gets more free attempts
    (an office shares one). A quiet hour forgets a streak; a success forgets the name's.
    """

    model_config = _config("STATIONS_STAFF_")

    session_idle_minutes: float = Field(default=30, gt=0, le=24 * 60)
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    link_hours: float = Field(default=72, gt=0, le=24 * 30)
    attempts_free: int = Field(default=5, ge=0, le=1000)
    attempts_lockout: int = Field(default=15, ge=1, le=10000)
    address_attempts_free: int = Field(default=20, ge=0, le=10000)
    address_attempts_lockout: int = Field(default=100, ge=1, le=100000)
    lockout_minutes: float = Field(default=15, gt=0, le=24 * 60)
    # Files uploaded in the console for import: the largest accepted, and how long an
    # upload waits for its confirmation.
    upload_max_mb: float = Field(default=20, gt=0, le=1024)
    upload_hours: float = Field(default=24, gt=0, le=24 * 30)


class MemberSignInSettings(BaseSettings):
    """Member sign-in (member number + phone), throttled like staff sign-in.

    Failures count against the member number and against the client's address, shared
    by every worker (PostgreSQL). After ``attempts_free`` failures of a number each next
    attempt waits twice as long (1 s, 2 s … at most a minute); ``attempts_lockout``
    failures lock the number for ``lockout_minutes``, from whichever addresses they came.
    Attempts while waiting are refused unchecked (429 with ``Retry-After``).
    """

    model_config = _config("STATIONS_MEMBER_SIGN_IN_")

    attempts_free: int = Field(default=5, ge=0, le=1000)
    attempts_lockout: int = Field(default=15, ge=1, le=10000)
    address_attempts_free: int = Field(default=20, ge=0, le=10000)
    address_attempts_lockout: int = Field(default=100, ge=1, le=100000)
    lockout_minutes: float = Field(default=15, gt=0, le=24 * 60)


class CoverageSettings(BaseSettings):
    """Defaults of the coverage analysis: distance bands, speeds, the target band.

    The rider page uses the same speeds for its walking and e-bike times, so a rider's
    "15 minutes" is a planner's.
    """

    model_config = _config("STATIONS_COVERAGE_")

    distances_m: tuple[float, ...] = (300.0, 500.0, 1000.0)
    minutes: float = Field(default=15.0, gt=0, le=120)
    walk_kmh: float = Field(default=4.5, gt=0, le=20)
    ebike_kmh: float = Field(default=15.0, gt=0, le=60)
    target: str = "walk_15min"
    max_cells: int = Field(
        default=2_000_000, ge=1, description="largest region one request may ask"
    )
    api_max_cells: int = Field(
        default=200_000,
        ge=1,
        description="largest region one API request may ask (the CLI takes up to max_cells)",
    )


class TileSettings(BaseSettings):
    """Tile layer of the maps and the rider page: none by default, so maps work offline.

    Chinese tile providers (Amap/Gaode, Tencent) draw GCJ-02; with ``crs="gcj02"`` every
    drawn coordinate is shifted with :func:`stations.geo.crs.wgs84_to_gcj02` so it lands
    on the right street.
    """

    model_config = _config("STATIONS_TILES_")

    url: str | None = Field(
        default=None, description="XYZ template, e.g. http://tiles.local/{z}/{x}/{y}.png"
    )
    crs: Literal["wgs84", "gcj02"] = "wgs84"
    attribution: str = "map tiles"
    max_zoom: int = Field(default=18, ge=1, le=22)


class BasemapSettings(BaseSettings):
    """A local base map file, served at ``/basemap/{z}/{x}/{y}`` when no online tile
    layer (``STATIONS_TILES_URL``) is set: streets for a network with no internet."""

    model_config = _config("STATIONS_BASEMAP_")

    file: Path | None = Field(
        default=None, description="an MBTiles or PMTiles file (raster PNG/JPEG/WebP or vector pbf)"
    )
    crs: Literal["wgs84", "gcj02"] = Field(
        default="wgs84", description="gcj02 for a tile set drawn in GCJ-02 (Chinese sources)"
    )


class VectorTileSettings(BaseSettings):
    """The catalog's own vector tiles (``/ogc/collections/stations/tiles``)."""

    model_config = _config("STATIONS_VECTOR_TILES_")

    stations_from_zoom: int = Field(
        default=12, ge=0, le=22, description="from this zoom, stations; below it, H3 cells"
    )
    city_cells_from_zoom: int = Field(
        default=9,
        ge=0,
        le=22,
        description="cells of res 9 from this zoom, coarser ones (res 1-5) below it",
    )
    max_stations: int = Field(
        default=5000, ge=1, description="a tile with more stations draws res-11 cells"
    )
    max_tile_bytes: int = Field(default=500_000, ge=10_000, description="no tile is larger")
    cache_tiles: int = Field(default=4096, ge=0, description="tiles kept built in memory")
    cache_max_age_s: float = Field(
        default=30.0, ge=0, description="how old a kept tile's open-now and water may be"
    )
    maps_from_stations: int = Field(
        default=3000,
        ge=0,
        description="a catalog with more stations is drawn on the maps from these tiles",
    )


class Settings(BaseModel):
    """All settings, grouped by concern."""

    model_config = {"frozen": True}

    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    h3: H3Settings = Field(default_factory=H3Settings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    staff: StaffSettings = Field(default_factory=StaffSettings)
    member_sign_in: MemberSignInSettings = Field(default_factory=MemberSignInSettings)
    coverage: CoverageSettings = Field(default_factory=CoverageSettings)
    tiles: TileSettings = Field(default_factory=TileSettings)
    vector_tiles: VectorTileSettings = Field(default_factory=VectorTileSettings)
    basemap: BasemapSettings = Field(default_factory=BasemapSettings)


@cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
