"""stream_messages indexed by age: the retention prune finds old ids without a full scan

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 15:45:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stream_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stream_messages_received_us"), ["received_us"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("stream_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stream_messages_received_us"))
