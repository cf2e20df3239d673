"""model packages per organisation, and deployment parity: a supplier's imported copy of a
package is a row of its own (``origin_id`` names the publisher's package), so sharing works
inside one install; ``parity`` keeps the last golden-set check of an imported package

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_packages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("parity", sa.JSON(), nullable=True))
    op.execute("UPDATE model_packages SET origin_id = id WHERE origin_id IS NULL")
    with op.batch_alter_table("model_packages", schema=None) as batch_op:
        batch_op.alter_column("origin_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_model_packages_org_id_origin_id"), ["org_id", "origin_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("model_packages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_model_packages_org_id_origin_id"), type_="unique")
        batch_op.drop_column("parity")
        batch_op.drop_column("origin_id")
