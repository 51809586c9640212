"""scanned sheets: the scanner's reading of each scanned page, the page's image (encrypted), and the round's
settings for scans (tellers confirming a scanned sheet, what becomes of the images at the seal)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scan_page',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('sheet', sa.String(length=40), nullable=True),
    sa.Column('marks', sa.LargeBinary(length=200), nullable=True),
    sa.Column('flaws', sa.String(length=60), nullable=False),
    sa.Column('problems', sa.Text(), nullable=False),
    sa.Column('rows', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('uploaded_by', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('identified_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['identified_by'], ['account.id'], name=op.f('fk_scan_page_identified_by_account'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_scan_page_round_id_round'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['uploaded_by'], ['account.id'], name=op.f('fk_scan_page_uploaded_by_account'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_page')),
    sa.UniqueConstraint('round_id', 'sheet', name='uq_scan_page_sheet')
    )
    op.create_index(op.f('ix_scan_page_round_id'), 'scan_page', ['round_id'], unique=False)
    op.create_table('scan_image',
    sa.Column('page_id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=16), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.CheckConstraint("content_type IN ('image/jpeg','image/png')", name=op.f('ck_scan_image_content_type')),
    sa.ForeignKeyConstraint(['page_id'], ['scan_page.id'], name=op.f('fk_scan_image_page_id_scan_page'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_scan_image_round_id_round'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('page_id', name=op.f('pk_scan_image'))
    )
    op.create_index(op.f('ix_scan_image_round_id'), 'scan_image', ['round_id'], unique=False)
    # plain ADD COLUMNs with constant defaults on both engines: no copy of the round table (and its triggers)
    op.add_column('round', sa.Column('machine_entries', sa.Integer(), server_default='1', nullable=False))
    op.add_column('round', sa.Column('scan_retention', sa.String(length=8), server_default='delete', nullable=False))
    if op.get_bind().dialect.name != "sqlite":  # SQLite cannot add a CHECK to a table in place
        op.create_check_constraint(op.f('ck_round_machine_entries'), 'round', 'machine_entries IN (1, 2)')
        op.create_check_constraint(op.f('ck_round_scan_retention'), 'round', "scan_retention IN ('delete','archive')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f('ck_round_scan_retention'), 'round', type_='check')
        op.drop_constraint(op.f('ck_round_machine_entries'), 'round', type_='check')
    # SQLite's own DROP COLUMN (3.35+): a batch copy of the table would trip over the triggers that name it
    op.drop_column('round', 'scan_retention')
    op.drop_column('round', 'machine_entries')
    op.drop_index(op.f('ix_scan_image_round_id'), table_name='scan_image')
    op.drop_table('scan_image')
    op.drop_index(op.f('ix_scan_page_round_id'), table_name='scan_page')
    op.drop_table('scan_page')
