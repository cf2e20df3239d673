"""root-cause requests between companies: the request/answer rows of both sides, and the
review-before-send setting of a share grant

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("share_grants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "review_before_send", sa.Boolean(), server_default=sa.text("false"), nullable=False
            )
        )
    op.create_table(
        "root_cause_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("partner_org_id", sa.String(length=32), nullable=False),
        sa.Column("lots", sa.JSON(), nullable=False),
        sa.Column("serials", sa.JSON(), nullable=False),
        sa.Column("defect_type", sa.String(length=100), nullable=True),
        sa.Column("found_at", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answer_text", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("grant_id", sa.String(length=32), nullable=True),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_root_cause_requests_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_root_cause_requests")),
    )
    with op.batch_alter_table("root_cause_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_root_cause_requests_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_root_cause_requests_org_id_request_id"),
            ["org_id", "request_id"],
            unique=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("root_cause_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_root_cause_requests_org_id_request_id"))
        batch_op.drop_index(batch_op.f("ix_root_cause_requests_org_id"))
    op.drop_table("root_cause_requests")
    with op.batch_alter_table("share_grants", schema=None) as batch_op:
        batch_op.drop_column("review_before_send")
