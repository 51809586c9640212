"""abuse limits: kiosk tablet ids handed out per address, the device of a log-in attempt, a teller's password
reset waiting for a second administrator

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kiosk_tablet',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kiosk_tablet'))
    )
    with op.batch_alter_table('kiosk_tablet', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kiosk_tablet_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_kiosk_tablet_at'), ['at'], unique=False)

    # a plain ADD COLUMN on both engines: nullable, no copy of the table
    op.add_column('login_failure', sa.Column('device', sa.String(length=32), nullable=True))

    op.create_table('password_reset',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('requested_by', sa.String(length=60), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_password_reset_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_password_reset'))
    )


def downgrade() -> None:
    op.drop_table('password_reset')
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.drop_column('device')
    with op.batch_alter_table('kiosk_tablet', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kiosk_tablet_at'))
        batch_op.drop_index(batch_op.f('ix_kiosk_tablet_address'))
    op.drop_table('kiosk_tablet')
