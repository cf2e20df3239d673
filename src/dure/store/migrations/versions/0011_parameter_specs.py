"""parameter specs: a part's specification limits per process parameter (for Cpk)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parameter_specs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("part_id", sa.String(length=32), nullable=False),
        sa.Column("parameter", sa.String(length=64), nullable=False),
        sa.Column("lower", sa.Float(), nullable=True),
        sa.Column("upper", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_parameter_specs_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["part_numbers.id"], name=op.f("fk_parameter_specs_part_id_part_numbers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parameter_specs")),
        sa.UniqueConstraint(
            "org_id",
            "part_id",
            "parameter",
            name=op.f("uq_parameter_specs_org_id_part_id_parameter"),
        ),
    )
    with op.batch_alter_table("parameter_specs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_parameter_specs_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_parameter_specs_part_id"), ["part_id"], unique=False)


def downgrade() -> None:
    op.drop_table("parameter_specs")
