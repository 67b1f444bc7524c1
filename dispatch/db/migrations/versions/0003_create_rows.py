"""Fewer row writes per create: stored responses in their own table; a leaner rider index.

An idempotency key's stored response moves from `idempotency_keys` (written by an update once
the work was done) to `idempotency_responses` (inserted with the work); responses already
stored move with it. `ix_orders_rider` keeps only orders that have a rider: every query on
it names a rider, and every new order has none.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_HAS_RIDER = sa.text("rider_id IS NOT NULL")


def upgrade() -> None:
    """Create `idempotency_responses`, move the stored responses into it, narrow the index."""
    op.create_table(
        "idempotency_responses",
        sa.Column("owner", sa.String(length=40), nullable=False),
        sa.Column("endpoint", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("owner", "endpoint", "key",
                                name=op.f("pk_idempotency_responses")),
    )
    op.execute(
        "INSERT INTO idempotency_responses (owner, endpoint, key, status_code, body) "
        "SELECT owner, endpoint, key, status_code, response_body FROM idempotency_keys "
        "WHERE status_code IS NOT NULL AND response_body IS NOT NULL"
    )
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("response_body")
        batch.drop_column("status_code")
    op.drop_index("ix_orders_rider", table_name="orders")
    op.create_index("ix_orders_rider", "orders", ["rider_id"], unique=False,
                    postgresql_where=_HAS_RIDER, sqlite_where=_HAS_RIDER)


def downgrade() -> None:
    """Put the responses back on their keys and the full index back."""
    op.drop_index("ix_orders_rider", table_name="orders")
    op.create_index("ix_orders_rider", "orders", ["rider_id"], unique=False)
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("status_code", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("response_body", sa.Text(), nullable=True))
    op.execute(
        "UPDATE idempotency_keys SET "
        "status_code = (SELECT r.status_code FROM idempotency_responses r WHERE "
        "r.owner = idempotency_keys.owner AND r.endpoint = idempotency_keys.endpoint "
        "AND r.key = idempotency_keys.key), "
        "response_body = (SELECT r.body FROM idempotency_responses r WHERE "
        "r.owner = idempotency_keys.owner AND r.endpoint = idempotency_keys.endpoint "
        "AND r.key = idempotency_keys.key)"
    )
    op.drop_table("idempotency_responses")
