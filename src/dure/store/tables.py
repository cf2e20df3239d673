"""The SQL schema, as SQLAlchemy Core tables; Alembic migrations are generated from it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(32)
TS = DateTime(timezone=True)


def _id() -> Column:
    return Column("id", ID, primary_key=True)


def _org() -> Column:
    return Column("org_id", ID, ForeignKey("organisations.id"), nullable=False, index=True)


def _created() -> Column:
    return Column("created_at", TS, nullable=False)


organisations = Table(
    "organisations",
    metadata,
    _id(),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("slug", String(64), nullable=False, unique=True),
    _created(),
)

supplier_links = Table(
    "supplier_links",
    metadata,
    _id(),
    Column("oem_id", ID, ForeignKey("organisations.id"), nullable=False),
    Column("supplier_id", ID, ForeignKey("organisations.id"), nullable=False),
    _created(),
    UniqueConstraint("oem_id", "supplier_id"),
)

users = Table(
    "users",
    metadata,
    _id(),
    _org(),
    Column("email", String(254), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(256)),
    Column("disabled", Boolean, nullable=False, default=False),
    _created(),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    _id(),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    _org(),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("expires_at", TS),
    Column("revoked_at", TS),
    Column("last_used_at", TS),
    _created(),
)

# Failed log-ins, kept a while to slow guessing: per account (by e-mail) and per address.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, index=True),
    Column("address", String(64), nullable=False, index=True),
    Column("at", TS, nullable=False, index=True),
)

sites = Table(
    "sites", metadata, _id(), _org(), Column("name", String(200), nullable=False), _created()
)

lines = Table(
    "lines",
    metadata,
    _id(),
    _org(),
    Column("site_id", ID, ForeignKey("sites.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    _created(),
)

stations = Table(
    "stations",
    metadata,
    _id(),
    _org(),
    Column("line_id", ID, ForeignKey("lines.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    _created(),
)

assets = Table(
    "assets",
    metadata,
    _id(),
    _org(),
    Column("name", String(200), nullable=False),
    Column("line_id", ID, ForeignKey("lines.id")),
    Column("station_id", ID, ForeignKey("stations.id")),
    Column("kind", String(32), nullable=False),
    _created(),
)

sensor_channels = Table(
    "sensor_channels",
    metadata,
    _id(),
    _org(),
    Column("asset_id", ID, ForeignKey("assets.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("unit", String(32), nullable=False),
    # A 60-bit integer taken from the id: readings are keyed by it, which makes bulk
    # inserts about twice as fast as a 32-character text key (see channel_key()).
    Column("key", BigInteger, nullable=False, unique=True),
    _created(),
    UniqueConstraint("asset_id", "name"),
)

# One row per reading; the primary key makes re-imports idempotent and keeps each
# channel's readings in time order on disk (SQLite: a WITHOUT ROWID table).
sensor_readings = Table(
    "sensor_readings",
    metadata,
    Column("channel_key", BigInteger, nullable=False),
    Column("ts_us", BigInteger, nullable=False),
    Column("value", Float, nullable=False),
    PrimaryKeyConstraint("channel_key", "ts_us"),
    sqlite_with_rowid=False,
)

part_numbers = Table(
    "part_numbers",
    metadata,
    _id(),
    _org(),
    Column("number", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("oem_part_id", ID, ForeignKey("part_numbers.id")),
    _created(),
    UniqueConstraint("org_id", "number"),
)

lots = Table(
    "lots",
    metadata,
    _id(),
    _org(),
    Column("part_id", ID, ForeignKey("part_numbers.id"), nullable=False, index=True),
    Column("code", String(100), nullable=False),
    Column("line_id", ID, ForeignKey("lines.id")),
    Column("started_at", TS),
    Column("quantity", Integer),
    _created(),
    UniqueConstraint("org_id", "code"),
)

defect_types = Table(
    "defect_types",
    metadata,
    _id(),
    _org(),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("severity", Integer, nullable=False),
    _created(),
    UniqueConstraint("org_id", "code"),
)

inspection_records = Table(
    "inspection_records",
    metadata,
    _id(),
    _org(),
    Column("part_id", ID, ForeignKey("part_numbers.id"), nullable=False),
    Column("lot_id", ID, ForeignKey("lots.id")),
    Column("station_id", ID, ForeignKey("stations.id")),
    Column("serial", String(100)),
    Column("image_sha256", String(64), nullable=False),
    Column("score", Float),
    Column("verdict", String(16)),
    Column("defect_type", String(64)),
    Column("model_version_id", ID),
    Column("heatmap_sha256", String(64)),
    # defect regions of the heat-map: [{"box": [x0, y0, x1, y1], "area", "share", "peak",
    # "defect_type"}], largest first; empty for a part judged good
    Column("regions", JSON, nullable=False, server_default=text("'[]'")),
    Column("review_decision", String(16)),
    Column("reviewed_by", ID),
    Column("reviewed_at", TS),
    Column("taken_at", TS, nullable=False),
    # what made the record, for records that must be made once: "<job id>:<image index>"
    # for a batch's image (a batch resumed or sent again adds nothing)
    Column("source_key", String(100)),
    _created(),
    Index(None, "org_id", "taken_at"),
    Index(None, "org_id", "part_id"),
    Index("uq_inspection_records_org_id_source_key", "org_id", "source_key", unique=True),
)

process_records = Table(
    "process_records",
    metadata,
    _id(),
    _org(),
    Column("part_id", ID, ForeignKey("part_numbers.id"), nullable=False),
    Column("lot_id", ID, ForeignKey("lots.id")),
    Column("serial", String(100)),
    Column("line_id", ID, ForeignKey("lines.id")),
    Column("recorded_at", TS, nullable=False),
    Column("values", JSON, nullable=False),
    Column("units", JSON, nullable=False),
    # part|lot|serial|time: the natural key that makes re-imports add nothing
    Column("natural_key", String(400), nullable=False),
    _created(),
    UniqueConstraint("org_id", "natural_key"),
    Index(None, "org_id", "recorded_at"),
    # a part's oldest / newest records (control charts, live checks) without a scan
    Index(None, "org_id", "part_id", "recorded_at"),
)

parameter_specs = Table(
    "parameter_specs",
    metadata,
    _id(),
    _org(),
    Column("part_id", ID, ForeignKey("part_numbers.id"), nullable=False, index=True),
    Column("parameter", String(64), nullable=False),
    Column("lower", Float),
    Column("upper", Float),
    _created(),
    UniqueConstraint("org_id", "part_id", "parameter"),
)

maintenance_events = Table(
    "maintenance_events",
    metadata,
    _id(),
    _org(),
    Column("asset_id", ID, ForeignKey("assets.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("occurred_at", TS, nullable=False),
    Column("note", Text, nullable=False),
    Column("created_by", ID),
    _created(),
    Index(None, "asset_id", "occurred_at"),
)

model_versions = Table(
    "model_versions",
    metadata,
    _id(),
    _org(),
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("task", String(64), nullable=False),
    Column("part_id", ID, ForeignKey("part_numbers.id")),
    Column("blob_sha256", String(64)),
    Column("card", JSON, nullable=False),
    Column("base_version_id", ID, ForeignKey("model_versions.id")),
    Column("status", String(16), nullable=False),
    _created(),
    UniqueConstraint("org_id", "name", "version"),
)

share_grants = Table(
    "share_grants",
    metadata,
    _id(),
    Column("grantor_org_id", ID, ForeignKey("organisations.id"), nullable=False, index=True),
    Column("grantee_org_id", ID, ForeignKey("organisations.id"), nullable=False, index=True),
    Column("scope", String(32), nullable=False),
    Column("part_id", ID, ForeignKey("part_numbers.id")),
    Column("created_by", ID),
    Column("expires_at", TS),
    Column("revoked_at", TS),
    Column("note", Text, nullable=False),
    # the part's number, which is how two installs name the same part
    Column("part_number", String(100)),
    Column("review_before_send", Boolean, nullable=False, server_default=text("false")),
    _created(),
)

audit_events = Table(
    "audit_events",
    metadata,
    _id(),
    Column("org_id", ID, nullable=False),
    Column("actor_org_id", ID),
    Column("actor_user_id", ID),
    Column("action", String(64), nullable=False),
    Column("resource", String(64), nullable=False),
    Column("resource_id", String(64)),
    Column("grant_id", ID),
    Column("detail", JSON, nullable=False),
    Column("at", TS, nullable=False),
    Index(None, "org_id", "at"),
    Index(None, "actor_org_id", "at"),
)

blobs = Table(
    "blobs",
    metadata,
    Column("org_id", ID, ForeignKey("organisations.id"), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("filename", String(255), nullable=False),
    _created(),
    PrimaryKeyConstraint("org_id", "sha256"),
)

import_batches = Table(
    "import_batches",
    metadata,
    _id(),
    _org(),
    Column("kind", String(32), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("rows_total", BigInteger, nullable=False),
    Column("rows_accepted", BigInteger, nullable=False),
    Column("rows_rejected", BigInteger, nullable=False),
    Column("errors", JSON, nullable=False),
    _created(),
    UniqueConstraint("org_id", "kind", "sha256"),
)

labelled_images = Table(
    "labelled_images",
    metadata,
    _id(),
    _org(),
    Column("part_id", ID, ForeignKey("part_numbers.id"), nullable=False),
    Column("image_sha256", String(64), nullable=False),
    Column("mask_sha256", String(64)),
    Column("split", String(16), nullable=False),
    Column("label", String(64), nullable=False),
    Column("boxes", JSON, nullable=False),
    Column("source_name", String(255), nullable=False),
    _created(),
    UniqueConstraint("org_id", "part_id", "image_sha256"),
)


def channel_key(channel_id: str) -> int:
    """The integer key of a sensor channel: the first 15 hex digits of its random id."""
    return int(channel_id[:15], 16)


jobs = Table(
    "jobs",
    metadata,
    _id(),
    _org(),
    Column("kind", String(32), nullable=False),
    Column("subject_id", ID, nullable=False),
    Column("params", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("progress", Float, nullable=False),
    Column("message", String(500), nullable=False),
    Column("result", JSON, nullable=False),
    Column("error", Text),
    Column("created_by", ID),
    Column("started_at", TS),
    Column("finished_at", TS),
    # the caller's key (or one derived from the content) that makes sending a job twice
    # return the first; how many times a worker has started the job
    Column("idempotency_key", String(200)),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    _created(),
    Index(None, "org_id", "created_at"),
    Index(None, "status"),
    Index("uq_jobs_org_id_idempotency_key", "org_id", "idempotency_key", unique=True),
)

# Live data connectors (MQTT, OPC UA): configuration, and the runner's last status.
connectors = Table(
    "connectors",
    metadata,
    _id(),
    _org(),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("config", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("status", JSON, nullable=False),
    Column("heartbeat_at", TS),
    Column("created_by", ID),
    _created(),
    UniqueConstraint("org_id", "name"),
)

# The message ids a connector has stored: a redelivered message is recognised and its
# readings are not stored twice. Keyed by the connector's integer key (see channel_key).
stream_messages = Table(
    "stream_messages",
    metadata,
    Column("connector_key", BigInteger, nullable=False),
    Column("message_id", String(128), nullable=False),
    Column("received_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("connector_key", "message_id"),
    Index(None, "received_us"),  # retention prunes by age
    sqlite_with_rowid=False,
)

# What a connector could not store, and why: malformed payloads, unknown tags,
# implausible times, values that are not numbers.
stream_rejects = Table(
    "stream_rejects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _org(),
    Column("connector_id", ID, ForeignKey("connectors.id"), nullable=False),
    Column("received_us", BigInteger, nullable=False),
    Column("topic", String(512), nullable=False),
    Column("message_id", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("excerpt", Text, nullable=False),
    Index(None, "connector_id", "id"),
)

alerts = Table(
    "alerts",
    metadata,
    _id(),
    _org(),
    Column("kind", String(32), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("rule", String(200), nullable=False),
    Column("message", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("dedup_key", String(300), nullable=False),
    Column("status", String(16), nullable=False),
    Column("count", Integer, nullable=False),
    Column("first_at", TS, nullable=False),
    Column("last_at", TS, nullable=False),
    Column("acknowledged_by", ID),
    Column("delivery", JSON, nullable=False),
    # the dashboard page that shows what raised it (a chart or an image)
    Column("link", String(300)),
    _created(),
    Index(None, "org_id", "status"),
    Index(None, "org_id", "dedup_key"),
)

live_checks = Table(
    "live_checks",
    metadata,
    _id(),
    _org(),
    Column("subject_kind", String(16), nullable=False),
    Column("subject_id", ID, nullable=False),
    Column("parameter", String(100), nullable=False, server_default=""),
    Column("enabled", Boolean, nullable=False),
    Column("rules", JSON, nullable=False),
    Column("false_alarm_rate", Float, nullable=False),
    Column("baseline", Integer, nullable=False),
    Column("pending", Boolean, nullable=False),
    Column("pending_since", TS),
    # the oldest reading time written since the last run (a late reading shows as older
    # than the check's bookmark)
    Column("late_from_us", BigInteger),
    Column("checked_at", TS),
    Column("state", JSON, nullable=False),
    Column("last_error", Text),
    _created(),
    UniqueConstraint("org_id", "subject_kind", "subject_id", "parameter"),
    Index(None, "pending", "pending_since"),
)

alert_targets = Table(
    "alert_targets",
    metadata,
    _id(),
    _org(),
    Column("kind", String(16), nullable=False),
    Column("address", String(500), nullable=False),
    _created(),
)

# ---- collaboration between installs (issue 5) ----------------------------------------
org_keys = Table(
    "org_keys",
    metadata,
    Column("org_id", ID, ForeignKey("organisations.id"), primary_key=True),
    Column("public_pem", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    _created(),
)

partners = Table(
    "partners",
    metadata,
    _id(),
    _org(),
    Column("partner_org_id", ID, ForeignKey("organisations.id"), nullable=False),
    Column("url", String(500), nullable=False),
    Column("public_pem", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    # the token the partner presents to us (hash only) and until when it is good
    Column("inbound_token_hash", String(64), nullable=False),
    Column("inbound_expires_at", TS, nullable=False),
    # the token we present to the partner (a secret, like a connector password)
    Column("outbound_token", String(200), nullable=False),
    Column("last_sync_at", TS),
    _created(),
    UniqueConstraint("org_id", "partner_org_id"),
)

partner_invitations = Table(
    "partner_invitations",
    metadata,
    _id(),
    _org(),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("expires_at", TS, nullable=False),
    Column("used_at", TS),
    Column("used_by_org_id", ID),
    Column("token_days", Integer, nullable=False),
    Column("created_by", ID),
    _created(),
)

peer_nonces = Table(
    "peer_nonces",
    metadata,
    Column("partner_id", ID, ForeignKey("partners.id"), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("seen_at", TS, nullable=False, index=True),
    PrimaryKeyConstraint("partner_id", "nonce"),
)

model_packages = Table(
    "model_packages",
    metadata,
    _id(),
    _org(),
    Column("role", String(16), nullable=False),
    Column("publisher_org_id", ID, nullable=False),
    Column("part_id", ID, ForeignKey("part_numbers.id")),
    Column("part_number", String(100), nullable=False),
    Column("model_version_id", ID, ForeignKey("model_versions.id")),
    Column("package_sha256", String(64), nullable=False),
    Column("card", JSON, nullable=False),
    Column("revoked_at", TS),
    _created(),
    # the publisher's package id: a supplier's imported copy is a row of its own
    Column("origin_id", ID, nullable=False),
    Column("parity", JSON),
    UniqueConstraint("org_id", "origin_id"),
)

kpi_reports = Table(
    "kpi_reports",
    metadata,
    _id(),
    _org(),
    Column("part_id", ID, ForeignKey("part_numbers.id")),
    Column("part_number", String(100), nullable=False),
    Column("period_start", TS, nullable=False),
    Column("period_end", TS, nullable=False),
    Column("figures", JSON, nullable=False),
    Column("sent_to_org_id", ID),
    Column("sent_at", TS),
    Column("grant_id", ID),
    _created(),
    Index(None, "org_id", "part_id", "period_start"),
)

federated_rounds = Table(
    "federated_rounds",
    metadata,
    _id(),
    _org(),
    Column("base_version_id", ID, ForeignKey("model_versions.id"), nullable=False),
    Column("part_id", ID, ForeignKey("part_numbers.id")),
    Column("status", String(16), nullable=False),
    Column("settings", JSON, nullable=False),
    Column("participants", JSON, nullable=False),
    Column("outcome", JSON, nullable=False),
    Column("new_version_id", ID),
    Column("finished_at", TS),
    _created(),
)

# ---- edge boxes: line-side runtimes that forward their results to this site ---------------
edge_devices = Table(
    "edge_devices",
    metadata,
    _id(),
    _org(),
    Column("name", String(200), nullable=False),
    # the box's Ed25519 public key: its result posts are signed with the private half
    Column("public_pem", Text, nullable=False),
    Column("station_id", ID, ForeignKey("stations.id")),
    Column("part_id", ID, ForeignKey("part_numbers.id")),
    Column("model_version_id", ID, ForeignKey("model_versions.id")),
    Column("last_seen_at", TS),
    Column("results_received", Integer, nullable=False, server_default=text("0")),
    # grows by one whenever the package the box should run changes; signed in its pointer
    # so a box refuses an older pointer replayed at it
    Column("assignment", Integer, nullable=False, server_default=text("0")),
    Column("assigned_package_id", ID),
    # set when an engineer retires the box: its posts and model reads are refused from then
    Column("retired_at", TS),
    # the box's last parity report: its package's golden set scored on the box
    Column("parity", JSON),
    _created(),
)

# signed edge packages built from a model version at one chosen threshold (cached: the
# package id changes when the model or its threshold does)
edge_packages = Table(
    "edge_packages",
    metadata,
    _id(),
    _org(),
    Column("model_version_id", ID, ForeignKey("model_versions.id"), nullable=False),
    # the threshold the package decides with, as text ("model" for the model's own)
    Column("threshold_key", String(64), nullable=False),
    Column("package_sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("map_level", Float, nullable=False),
    _created(),
    Index(None, "org_id", "model_version_id", "threshold_key", unique=True),
)

# a supplier's shipment of lots (and their serials) of one part number to an OEM: owned by
# the supplier, readable by the OEM once sent (oem_org_id, sent_at)
shipments = Table(
    "shipments",
    metadata,
    _id(),
    _org(),
    Column("oem_org_id", ID, ForeignKey("organisations.id"), nullable=False, index=True),
    Column("shipment_no", String(100), nullable=False),
    Column("part_id", ID, ForeignKey("part_numbers.id")),
    Column("part_number", String(100), nullable=False),
    Column("oem_part_number", String(100), nullable=False),
    # [{"code": ..., "quantity": ..., "serials": [...]}, ...]
    Column("lots", JSON, nullable=False),
    Column("shipped_at", TS, nullable=False),
    Column("sent_at", TS),
    _created(),
    UniqueConstraint("org_id", "shipment_no"),
)

# the OEM's records of supplier parts found bad (incoming, assembly, field return), naming
# the supplier's lots and/or serials; they stay with the OEM
part_defects = Table(
    "part_defects",
    metadata,
    _id(),
    _org(),
    Column("supplier_org_id", ID, ForeignKey("organisations.id"), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("defect_type", String(64), nullable=False),
    Column("found_at", TS, nullable=False),
    Column("count", Integer, nullable=False),
    Column("lot_codes", JSON, nullable=False),
    Column("serials", JSON, nullable=False),
    Column("oem_part_number", String(100)),
    Column("note", Text, nullable=False),
    _created(),
    Index(None, "org_id", "supplier_org_id", "found_at"),
)

# ---- root-cause requests: an OEM asks a supplier why named lots or serials were bad -------
# one row per side: the OEM keeps what it asked and the answer it got, the supplier what it
# was asked and the exact JSON it sent back (its "what we shared" list)
root_cause_requests = Table(
    "root_cause_requests",
    metadata,
    _id(),
    _org(),
    # the id both installs know the request by
    Column("request_id", ID, nullable=False),
    Column("side", String(16), nullable=False),
    Column("partner_org_id", ID, nullable=False),
    Column("lots", JSON, nullable=False),
    Column("serials", JSON, nullable=False),
    Column("defect_type", String(100)),
    Column("found_at", String(32)),
    Column("note", Text, nullable=False),
    Column("status", String(16), nullable=False),
    # the answer exactly as it crossed (JSON text), kept byte for byte
    Column("answer_text", Text),
    Column("reason", Text),
    Column("grant_id", ID),
    Column("decided_by", ID),
    Column("answered_at", TS),
    # computed here (counts against the grant's daily budget), or a repeat of that row
    Column("budget_spent", Boolean, nullable=False, server_default=text("false")),
    Column("repeat_of", ID),
    # an answer decided after review on its way to the OEM (pending, delivered, stopped)
    Column("delivery", String(16)),
    Column("delivery_attempts", Integer, nullable=False, server_default=text("0")),
    Column("delivery_next_at", TS),
    Column("delivery_error", Text),
    Column("delivery_failing_since", TS),
    Column("delivered_at", TS),
    _created(),
    Index(None, "org_id", "request_id", unique=True),
    Index(None, "org_id", "grant_id", "created_at"),
    Index(None, "delivery", "delivery_next_at"),
)
