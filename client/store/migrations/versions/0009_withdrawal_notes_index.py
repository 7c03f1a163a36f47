"""Two partial indexes of the history: the notes that say a withdrawal is owed, and done.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

After every drain the sync asks which transits sent to paper turned out lodged and have
not had their withdrawal queued since (``Store.withdrawals_owed``).  That question read
the whole history, every move of every declaration: more than two seconds of each sync
pass on a profile of 100,000 declarations, most of a window's drain of 2,000 (#15).  The
two notes are rare; an index of each holds only its own rows, keyed (declaration, id)
as the question walks them.  Literal notes in the index's WHERE: the query names them
literally too, so the planner can tell that the index covers it.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# history_notes.LODGED_BEFORE_PAPER and WITHDRAWAL_QUEUED, frozen as this revision wrote them.
INDEXES = {"ix_history_lodged_before_paper": "history.note.lodged_before_paper",
           "ix_history_withdrawal_queued": "history.note.withdrawal_queued"}


def upgrade() -> None:
    for name, note in INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON history (declaration_id, id) "
                   f"WHERE note = '{note}'")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
