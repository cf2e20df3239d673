"""traceability: supplier shipments (lots and serials sent to an OEM) and the OEM's part
defects (incoming, assembly, field return) naming those lots and serials

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shipments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("oem_org_id", sa.String(length=32), nullable=False),
        sa.Column("shipment_no", sa.String(length=100), nullable=False),
        sa.Column("part_id", sa.String(length=32), nullable=True),
        sa.Column("part_number", sa.String(length=100), nullable=False),
        sa.Column("oem_part_number", sa.String(length=100), nullable=False),
        sa.Column("lots", sa.JSON(), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_shipments_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["oem_org_id"], ["organisations.id"], name=op.f("fk_shipments_oem_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["part_numbers.id"], name=op.f("fk_shipments_part_id_part_numbers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.UniqueConstraint("org_id", "shipment_no", name=op.f("uq_shipments_org_id_shipment_no")),
    )
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shipments_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_shipments_oem_org_id"), ["oem_org_id"], unique=False)

    op.create_table(
        "part_defects",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("supplier_org_id", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("defect_type", sa.String(length=64), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("lot_codes", sa.JSON(), nullable=False),
        sa.Column("serials", sa.JSON(), nullable=False),
        sa.Column("oem_part_number", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_part_defects_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_org_id"],
            ["organisations.id"],
            name=op.f("fk_part_defects_supplier_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_part_defects")),
    )
    with op.batch_alter_table("part_defects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_part_defects_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_part_defects_org_id_supplier_org_id_found_at"),
            ["org_id", "supplier_org_id", "found_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("part_defects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_part_defects_org_id_supplier_org_id_found_at"))
        batch_op.drop_index(batch_op.f("ix_part_defects_org_id"))
    op.drop_table("part_defects")
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipments_oem_org_id"))
        batch_op.drop_index(batch_op.f("ix_shipments_org_id"))
    op.drop_table("shipments")
