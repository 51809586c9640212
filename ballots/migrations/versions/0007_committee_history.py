"""committee history: a committee's former names (with level and upper-level committee) until a day, the
committees it was formed from, the days it was formed and closed

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ALTER TABLE ... ADD COLUMN on both engines: nullable columns need no copy of the table (which the
    # foreign keys to it would block on SQLite)
    op.add_column('committee', sa.Column('formed_on', sa.Date(), nullable=True))
    op.add_column('committee', sa.Column('closed_on', sa.Date(), nullable=True))
    op.create_table('committee_former',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('committee_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('level', sa.String(length=80), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('until', sa.Date(), nullable=False),
    sa.Column('recorded_by', sa.String(length=60), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['committee_id'], ['committee.id'], name=op.f('fk_committee_former_committee_id_committee'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['committee.id'], name=op.f('fk_committee_former_parent_id_committee'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_committee_former')),
    sa.UniqueConstraint('committee_id', 'until', name='uq_committee_former_once_a_day')
    )
    with op.batch_alter_table('committee_former', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_committee_former_committee_id'), ['committee_id'], unique=False)

    op.create_table('committee_origin',
    sa.Column('committee_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('committee_id <> source_id', name=op.f('ck_committee_origin_not_itself')),
    sa.ForeignKeyConstraint(['committee_id'], ['committee.id'], name=op.f('fk_committee_origin_committee_id_committee'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['committee.id'], name=op.f('fk_committee_origin_source_id_committee'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('committee_id', 'source_id', name=op.f('pk_committee_origin'))
    )
    with op.batch_alter_table('committee_origin', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_committee_origin_source_id'), ['source_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('committee_origin', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_committee_origin_source_id'))
    op.drop_table('committee_origin')
    with op.batch_alter_table('committee_former', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_committee_former_committee_id'))
    op.drop_table('committee_former')
    # in place (SQLite 3.35+ drops a column without copying the table)
    op.execute("ALTER TABLE committee DROP COLUMN closed_on")
    op.execute("ALTER TABLE committee DROP COLUMN formed_on")
