"""The one settings object, read from ``DURE_*`` environment variables at start.

This module is the only place Dure reads its environment: ``Settings`` for its own
configuration, ``child_environment`` for the processes it starts (connectors, test beds).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Batches this large or larger go to Ray when it is configured. `dure bench scale` measured
# 5-10 s of fixed cost per Ray batch (actors start, model loads) and ~80 ms per image in
# process; with 4-16 workers Ray then wins from about 130-170 images (on a 2-core machine,
# never: see README "Point Dure at a Ray cluster").
DEFAULT_RAY_MIN_IMAGES = 150


class Settings(BaseSettings):
    """Where Dure keeps its data and how it serves; validated once, passed down."""

    model_config = SettingsConfigDict(env_prefix="DURE_", extra="ignore")

    home: Path = Field(default=Path("./var"), description="data directory")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is SQLite under home"
    )
    max_upload_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(default=64_000_000, gt=0)
    page_size_max: int = Field(default=500, gt=0)
    max_batch_bytes: int = Field(
        default=512 * 1024 * 1024, gt=0, description="largest multi-image upload"
    )
    run_jobs: bool = Field(default=True, description="run background jobs in the API process")
    run_connectors: bool = Field(
        default=False, description="run the enabled MQTT/OPC UA connectors (dure up turns it on)"
    )
    stream_retention_days: float = Field(
        default=7,
        gt=0,
        description=(
            "days a live connector remembers the id of a message it stored, so that a "
            "redelivery is recognised and not stored twice; older ids are pruned. Keep it "
            "longer than any redelivery can come: longer than the broker keeps an "
            "unacknowledged message (its session expiry) and than a connector may stay stopped"
        ),
    )

    public_url: str | None = Field(
        default=None, description="how partner installs reach this one (default: the served URL)"
    )
    flower_port: int | None = Field(default=None, description="port of the federated server")
    flower_advertise: str | None = Field(
        default=None, description="host:port suppliers' Flower clients connect to"
    )
    allow_private_addresses: bool = Field(
        default=False,
        description="let partner links, webhooks and brokers reach loopback and private networks",
    )
    outbound_networks: list[str] = Field(
        default_factory=list,
        description="networks (CIDR) outgoing requests may reach although they are private",
    )
    root_cause_min_group: int = Field(
        default=5,
        ge=5,
        description="root-cause answers to an OEM describe groups of at least this many "
        "parts (k), so that no single part's process record can be rebuilt",
    )
    root_cause_requests_per_day: int = Field(
        default=20,
        ge=1,
        description="root-cause requests one grant's OEM may have computed per rolling 24 "
        "hours (a repeat answered from the kept answer does not count), so that answers "
        "over changing data cannot be differenced down to single parts",
    )
    flower_python: Path | None = Field(
        default=None,
        description="a Python with flwr==1.41 for the federated agent (default: .venv-flower)",
    )

    supervisor_pid: int | None = Field(
        default=None,
        description="set by `dure up` for the connector processes it starts: a connector "
        "stops when that process is gone (even killed with -9)",
    )
    demo_mqtt: str | None = Field(
        default=None,
        description="host:port of an MQTT broker for the demo's live feed (default: a "
        "Mosquitto that `dure up` starts on loopback when installed, else direct writes)",
    )
    api_docs: bool = Field(
        default=True, description="serve the OpenAPI document and its /docs and /redoc pages"
    )
    web_dir: Path | None = Field(
        default=None, description="the built dashboard (default: web/dist beside the source)"
    )

    ray_address: str | None = Field(
        default=None,
        description="where batch inspection scales out: unset runs it in this process; "
        "`local` starts a Ray on this machine; `host:port` (or `ray://host:port`) joins an "
        "existing Ray cluster; `auto` joins the cluster this process runs in (under `ray job "
        "submit`) (needs the extra: pip install dure[scale])",
    )
    ray_token_file: Path | None = Field(
        default=None,
        description="file holding the Ray cluster's authentication token (a secret; Ray 2.60 "
        "token authentication). With `local` and no file, Dure makes keys/ray.token (0600)",
    )
    ray_min_images: int = Field(
        default=DEFAULT_RAY_MIN_IMAGES,
        gt=0,
        description="a batch this large or larger runs on Ray; smaller ones stay in process "
        "(Ray's fixed cost per batch outweighs the gain below it; see `dure bench scale`)",
    )
    ray_workers: int | None = Field(
        default=None, gt=0, description="Ray actors per batch (default: the cluster's CPUs)"
    )

    def child_environment(self, **extra: str) -> dict[str, str]:
        """The environment of a process this install starts: its own, with this install's
        home and database passed down, plus ``extra`` variables."""
        env = {"DURE_HOME": str(self.home)}
        if self.database_url:
            env["DURE_DATABASE_URL"] = self.database_url
        return child_environment({**env, **extra})

    @property
    def dashboard_dir(self) -> Path:
        """Folder of the built dashboard that is served at ``/``."""
        return self.web_dir or Path(__file__).resolve().parents[2] / "web" / "dist"

    @property
    def key_dir(self) -> Path:
        """Folder of the organisations' private signing keys (mode 0700)."""
        return self.home / "keys"

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                "DURE_DATABASE_URL must start with sqlite:// or postgresql://, "
                f"got {value.split(':', 1)[0]!r}"
            )
        return value

    @field_validator("demo_mqtt")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"DURE_DEMO_MQTT must be host:port, got {value!r}")
        return value

    @field_validator("ray_address")
    @classmethod
    def _ray_address(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if value in ("local", "auto"):
            return value
        host, _, port = value.removeprefix("ray://").rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(
                f"DURE_RAY_ADDRESS must be `local`, `auto`, host:port or ray://host:port, "
                f"got {value!r}"
            )
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one or SQLite under ``home``."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            return url
        return f"sqlite:///{(self.home / 'dure.sqlite').resolve()}"

    @property
    def model_dir(self) -> Path:
        """Folder where trained models are unpacked for use."""
        return self.home / "models"

    @property
    def work_dir(self) -> Path:
        """Scratch folder of training jobs."""
        return self.home / "work"

    @property
    def blob_dir(self) -> Path:
        """Folder of the content-addressed blob store."""
        return self.home / "blobs"


def child_environment(overrides: dict[str, str]) -> dict[str, str]:
    """This process's environment with ``overrides``: what a started ``dure`` process or
    helper needs to find its Python packages and its install."""
    return {**os.environ, **overrides}
