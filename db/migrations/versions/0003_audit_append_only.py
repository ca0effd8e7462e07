"""audit trail append-only in the database (PostgreSQL)

A trigger refuses UPDATE, DELETE and TRUNCATE on audit_entry, whoever sends them, with one
exception: the retention purge (`db.plumbing.audit.retention_purge`) sets the transaction-local setting
`lotsen.audit_purge_before` to its cutoff, and may then delete rows older than that cutoff.
The cutoff itself must be at least a day old by the database's clock (the shortest audit
retention the settings allow), so the hatch can never remove what was just written. SQLite
has no such setting: there the ORM guard in db/plumbing/audit.py is the protection, and this revision
changes nothing.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUARD = """
CREATE FUNCTION audit_entry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    cutoff text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        cutoff := current_setting('lotsen.audit_purge_before', true);
        IF coalesce(cutoff, '') <> ''
           AND cutoff::timestamptz <= now() - interval '1 day'
           AND OLD.at < cutoff::timestamptz THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_entry is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Only the retention purge deletes audit rows, and only those before its cutoff.';
END;
$$
"""


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(GUARD)
    op.execute(
        "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
        "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()"
    )


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_entry")
    op.execute("DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry")
    op.execute("DROP FUNCTION IF EXISTS audit_entry_append_only()")
