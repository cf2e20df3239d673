"""live checks: what is watched, with which rules, and the watch's bookmark; alert links

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_checks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("parameter", sa.String(length=100), server_default="", nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("false_alarm_rate", sa.Float(), nullable=False),
        sa.Column("baseline", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("pending_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late_from_us", sa.BigInteger(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_live_checks_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_checks")),
        sa.UniqueConstraint(
            "org_id",
            "subject_kind",
            "subject_id",
            "parameter",
            name=op.f("uq_live_checks_org_id_subject_kind_subject_id_parameter"),
        ),
    )
    with op.batch_alter_table("live_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_live_checks_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_live_checks_pending_pending_since"),
            ["pending", "pending_since"],
            unique=False,
        )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("link")
    with op.batch_alter_table("live_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_checks_pending_pending_since"))
        batch_op.drop_index(batch_op.f("ix_live_checks_org_id"))
    op.drop_table("live_checks")
