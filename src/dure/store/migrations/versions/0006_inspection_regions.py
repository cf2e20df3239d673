"""inspection regions: where on the part each defect is

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 13:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inspection_records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("regions", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("inspection_records", schema=None) as batch_op:
        batch_op.drop_column("regions")
