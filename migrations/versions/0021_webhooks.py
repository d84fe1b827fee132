"""Webhooks: an owner's endpoints, the outbox of messages for them, and every attempt.

Revision ID: 0021_webhooks
Revises: 0020_merges
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_webhooks"
down_revision: str | None = "0020_merges"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENDPOINTS = "contacts_kit_webhook_endpoints"
MESSAGES = "contacts_kit_webhook_messages"
ATTEMPTS = "contacts_kit_webhook_attempts"
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        ENDPOINTS,
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("owner_id", sa.String(length=255), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("event_types", sa.String(length=1000), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("previous_secret", sa.String(length=200), nullable=True),
        sa.Column("previous_until", WHEN, nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.Column("failing_since", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_kit_webhook_endpoints")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_contacts_kit_webhook_endpoints_owner", ENDPOINTS, ["owner_id", "id"])
    op.create_table(
        MESSAGES,
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("endpoint_id", ID, nullable=False),
        sa.Column("owner_id", sa.String(length=255), nullable=False),
        sa.Column("msg_id", sa.String(length=100), nullable=False),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("lease_until", WHEN, nullable=True),
        sa.Column("lease_holder", sa.String(length=64), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            [f"{ENDPOINTS}.id"],
            name=op.f("fk_contacts_kit_webhook_messages_endpoint_id_contacts_kit_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_kit_webhook_messages")),
        sa.UniqueConstraint("msg_id", name=op.f("uq_contacts_kit_webhook_messages_msg_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_contacts_kit_webhook_messages_due", MESSAGES, ["state", "next_attempt_at"]
    )
    op.create_index(
        "ix_contacts_kit_webhook_messages_endpoint", MESSAGES, ["endpoint_id", "state", "id"]
    )
    op.create_table(
        ATTEMPTS,
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("response", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            [f"{MESSAGES}.id"],
            name=op.f("fk_contacts_kit_webhook_attempts_message_id_contacts_kit_webhook_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_kit_webhook_attempts")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_contacts_kit_webhook_attempts_message_id"), ATTEMPTS, ["message_id"]
    )


def downgrade() -> None:
    op.drop_table(ATTEMPTS)
    op.drop_table(MESSAGES)
    op.drop_table(ENDPOINTS)
