"""idempotent, resumable batches: a job's idempotency key and attempts, a record's source key

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.create_index(
            "uq_jobs_org_id_idempotency_key", ["org_id", "idempotency_key"], unique=True
        )
    with op.batch_alter_table("inspection_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_key", sa.String(length=100), nullable=True))
        batch_op.create_index(
            "uq_inspection_records_org_id_source_key", ["org_id", "source_key"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("inspection_records", schema=None) as batch_op:
        batch_op.drop_index("uq_inspection_records_org_id_source_key")
        batch_op.drop_column("source_key")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("uq_jobs_org_id_idempotency_key")
        batch_op.drop_column("attempts")
        batch_op.drop_column("idempotency_key")
