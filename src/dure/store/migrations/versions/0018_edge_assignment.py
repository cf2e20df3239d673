"""edge assignment: a per-box number that grows whenever the package it should run changes,
signed in the model pointer so the box refuses an older (replayed) pointer; and when a box
was retired (its posts and model reads refused from then on)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("edge_devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("assignment", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("assigned_package_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("edge_devices", schema=None) as batch_op:
        batch_op.drop_column("retired_at")
        batch_op.drop_column("assigned_package_id")
        batch_op.drop_column("assignment")
