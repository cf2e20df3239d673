"""maintenance events: an asset's failures, repairs and replacements (run-to-failure RUL)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("asset_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_maintenance_events_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_maintenance_events_asset_id_assets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_events")),
    )
    with op.batch_alter_table("maintenance_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_maintenance_events_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_maintenance_events_asset_id_occurred_at"),
            ["asset_id", "occurred_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("maintenance_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_events_asset_id_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_maintenance_events_org_id"))
    op.drop_table("maintenance_events")
