"""edge devices and edge packages: line-side boxes that forward signed results to the site,
and the signed model packages built for them (one per model version and chosen threshold)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "edge_devices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("public_pem", sa.Text(), nullable=False),
        sa.Column("station_id", sa.String(length=32), nullable=True),
        sa.Column("part_id", sa.String(length=32), nullable=True),
        sa.Column("model_version_id", sa.String(length=32), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("results_received", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_edge_devices_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_edge_devices_station_id_stations")
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["part_numbers.id"], name=op.f("fk_edge_devices_part_id_part_numbers")
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_edge_devices_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edge_devices")),
    )
    with op.batch_alter_table("edge_devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_edge_devices_org_id"), ["org_id"], unique=False)

    op.create_table(
        "edge_packages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("model_version_id", sa.String(length=32), nullable=False),
        sa.Column("threshold_key", sa.String(length=64), nullable=False),
        sa.Column("package_sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("map_level", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_edge_packages_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_edge_packages_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edge_packages")),
    )
    with op.batch_alter_table("edge_packages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_edge_packages_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_edge_packages_org_id_model_version_id_threshold_key"),
            ["org_id", "model_version_id", "threshold_key"],
            unique=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("edge_packages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_edge_packages_org_id_model_version_id_threshold_key"))
        batch_op.drop_index(batch_op.f("ix_edge_packages_org_id"))
    op.drop_table("edge_packages")
    with op.batch_alter_table("edge_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_edge_devices_org_id"))
    op.drop_table("edge_devices")
