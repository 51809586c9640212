"""venue: the kiosk tablets seen at the venue (secure context, camera), and what a delegate does with the paper
sheet after a tablet vote (a round setting), and when the venue's printer test page was read by a tablet

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('venue_tablet',
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('secure', sa.Boolean(), nullable=False),
    sa.Column('camera', sa.Boolean(), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('address', name=op.f('pk_venue_tablet'))
    )
    # a plain ADD COLUMN with a constant default on both engines: no copy of the table
    op.add_column('round', sa.Column('paper_after_tablet', sa.String(length=8), server_default='board',
                                     nullable=False))
    op.add_column('round', sa.Column('printer_checked_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # SQLite's own DROP COLUMN (3.35+): a batch copy of the table would trip over the triggers that name it
    op.drop_column('round', 'printer_checked_at')
    op.drop_column('round', 'paper_after_tablet')
    op.drop_table('venue_tablet')
