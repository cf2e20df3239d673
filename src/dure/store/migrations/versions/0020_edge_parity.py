"""edge parity: what each edge box made of its package's golden set when it loaded it
(status, drifts, likely cause), as the box last reported it

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("edge_devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parity", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("edge_devices", schema=None) as batch_op:
        batch_op.drop_column("parity")
