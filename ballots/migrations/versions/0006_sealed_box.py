"""the sealed ballot box: sealed tablet ballots, the round's box and its key cards; names fixed at issue; the audit
chain authenticated with a key outside the database

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# the new tables whose rows belong to a round: frozen after its seal, like the others (revision 0004)
NEW_ROUND_TABLES = ("sealed_ballot", "ballot_box", "box_card")
SEALED = "('sealed','published')"


def upgrade() -> None:
    op.create_table('sealed_ballot',
    sa.Column('id', sa.LargeBinary(length=16), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('sealed', sa.LargeBinary(length=400), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_sealed_ballot_round_id_round'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sealed_ballot')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('sealed_ballot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sealed_ballot_round_id'), ['round_id'], unique=False)

    op.create_table('ballot_box',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('cards_needed', sa.Integer(), nullable=False),
    sa.Column('sealed_count', sa.Integer(), nullable=True),
    sa.Column('sealed_digest', sa.String(length=64), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('opened_by', sa.JSON(), nullable=True),
    sa.Column('opened_count', sa.Integer(), nullable=True),
    sa.Column('opened_digest', sa.String(length=64), nullable=True),
    sa.Column('mac', sa.String(length=64), nullable=True),
    sa.CheckConstraint('cards_needed >= 1', name=op.f('ck_ballot_box_cards_needed')),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_ballot_box_round_id_round'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('round_id', name=op.f('pk_ballot_box'))
    )
    op.create_table('box_card',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=True),
    sa.Column('commitment', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['holder_id'], ['account.id'], name=op.f('fk_box_card_holder_id_account'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['round_id'], ['ballot_box.round_id'], name=op.f('fk_box_card_round_id_ballot_box'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('round_id', 'index', name=op.f('pk_box_card'))
    )
    with op.batch_alter_table('candidate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('printed_name', sa.String(length=120), nullable=True))
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mac', sa.String(length=64), nullable=True))
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mac', sa.String(length=64), nullable=True))
    # rounds issued before this revision and not yet sealed keep their candidates' names as they stand now (a
    # sealed round's names are in its signed result, and its rows may not change)
    op.execute("UPDATE candidate SET printed_name = (SELECT full_name FROM person WHERE person.id = candidate.person_id)"
               " WHERE round_id IN (SELECT id FROM round WHERE state IN ('issued','open','closed','counted'))")
    _freeze(NEW_ROUND_TABLES)


def _freeze(tables) -> None:
    """Once a round is sealed its box, cards and sealed ballots cannot change (the functions of revision 0004)."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in tables:
        if sqlite:
            for event, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
                op.execute(f"""CREATE TRIGGER {table}_sealed_{event.lower()} BEFORE {event} ON {table}
                               WHEN (SELECT state FROM round WHERE id = {row}.round_id) IN {SEALED}
                               BEGIN SELECT RAISE(ABORT, 'the round is sealed: its records cannot change'); END""")
        else:
            op.execute(f"""CREATE TRIGGER {table}_sealed BEFORE INSERT OR UPDATE OR DELETE ON {table}
                           FOR EACH ROW EXECUTE FUNCTION refuse_after_seal()""")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in NEW_ROUND_TABLES:
        if sqlite:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_sealed_{event}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_sealed ON {table}")
    op.execute("ALTER TABLE audit_head DROP COLUMN mac")
    op.execute("ALTER TABLE audit_entry DROP COLUMN mac")
    op.execute("ALTER TABLE candidate DROP COLUMN printed_name")
    op.drop_table('box_card')
    op.drop_table('ballot_box')
    with op.batch_alter_table('sealed_ballot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sealed_ballot_round_id'))
    op.drop_table('sealed_ballot')
