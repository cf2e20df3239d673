"""root-cause budget and delivery: which supplier-side rows were computed (they count
against the grant's daily budget) or repeat an earlier answer, and the delivery state of
answers decided after review (pending with attempts, next try and last error; delivered;
stopped by a revoked grant)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("root_cause_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("budget_spent", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch_op.add_column(sa.Column("repeat_of", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("delivery", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column(
                "delivery_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("delivery_next_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("delivery_error", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("delivery_failing_since", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_root_cause_requests_org_id_grant_id_created_at"),
            ["org_id", "grant_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_root_cause_requests_delivery_delivery_next_at"),
            ["delivery", "delivery_next_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("root_cause_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_root_cause_requests_delivery_delivery_next_at"))
        batch_op.drop_index(batch_op.f("ix_root_cause_requests_org_id_grant_id_created_at"))
        for name in (
            "delivered_at",
            "delivery_failing_since",
            "delivery_error",
            "delivery_next_at",
            "delivery_attempts",
            "delivery",
            "repeat_of",
            "budget_spent",
        ):
            batch_op.drop_column(name)
