"""process records by part and time: a part's oldest and newest records (control-chart
windows, live part checks) are read through an index instead of a scan

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 01:15:00
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_process_records_org_id_part_id_recorded_at"),
            ["org_id", "part_id", "recorded_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("process_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_process_records_org_id_part_id_recorded_at"))
