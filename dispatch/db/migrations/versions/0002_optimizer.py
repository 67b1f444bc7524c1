"""Optimizer: region fencing tokens; offers keep their route and when they were answered.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add `region_fences`, and `offers.route` and `offers.answered_at` with their indexes."""
    op.create_table(
        "region_fences",
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("region", name=op.f("pk_region_fences")),
    )
    with op.batch_alter_table("offers") as batch:
        batch.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("route", sa.JSON(), nullable=True))
    op.create_index("ix_offers_answered", "offers", ["answered_at"], unique=False)
    op.create_index("ix_offers_order", "offers", ["order_id", "state"], unique=False)


def downgrade() -> None:
    """Remove what `upgrade` added."""
    op.drop_index("ix_offers_order", table_name="offers")
    op.drop_index("ix_offers_answered", table_name="offers")
    with op.batch_alter_table("offers") as batch:
        batch.drop_column("route")
        batch.drop_column("answered_at")
    op.drop_table("region_fences")
