"""The `trustvote` command: Flask's CLI for the app, plus set-up, database, demo and audit commands.

Each command reads app.settings once: `Instance` for what needs no key (set-up, the schema, issuing, accounts),
`Settings` for what signs. Like a view, a command calls the domain, which flushes; the command commits.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from contextlib import contextmanager

import click
from sqlalchemy import func, select
from flask.cli import FlaskGroup

from ballots import accounts, audit, schema, sealing, signing
from ballots.db import make_engine, make_sessionmaker, reading
from ballots.machine_entry import SCANS_FOLDER, ScanVault
from ballots.models import Result

from . import create_app
from .settings import AUDIT_ANCHOR_FILE, AUDIT_KEY_FILE, Instance, Settings, init_instance, load_audit_key, load_signing_key

DEMO_BALLOTS = "demo-ballots.pdf"
DEMO_PAPER = "demo-paper-ballots.pdf"
main = FlaskGroup(create_app=create_app, help="TrustVote: trust votes from set-up to signed, published result.")


def _audit_key(instance: Instance) -> tuple[bytes, int]:
    return load_audit_key(instance.instance_path / AUDIT_KEY_FILE)


@contextmanager
def _session(instance: Instance):
    """A session on the instance's database whose audit entries are authenticated with the instance's key."""
    key, _since = _audit_key(instance)
    engine = make_engine(instance.database_url)
    try:
        vault = ScanVault(instance.instance_path / SCANS_FOLDER)
        with make_sessionmaker(engine, audit_key=key, scan_vault=vault)() as session:
            yield session
    finally:
        engine.dispose()


@main.command("init", with_appcontext=False)
def init_command():
    """Create the instance folder, its keys (mode 600, kept if present) and the database schema."""
    instance = Instance.from_env()
    instance.instance_path.mkdir(parents=True, exist_ok=True)  # the SQLite file may live in it
    engine = make_engine(instance.database_url)
    schema.upgrade(engine)
    with make_sessionmaker(engine)() as session:
        # a database that already has entries gets its audit key from the next entry on
        since = audit.last_seq(session)
    engine.dispose()
    for path in init_instance(instance.instance_path, audit_since=since):
        click.echo(f"created {path}")
    click.echo(f"instance ready: {instance.instance_path}")


@main.group("db")
def db_group():
    """The database schema (Alembic migrations)."""


@db_group.command("upgrade", with_appcontext=False)
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str):
    """Bring the database to the current schema."""
    engine = make_engine(Instance.from_env().database_url)
    schema.upgrade(engine, revision)
    click.echo(f"database at revision {schema.current_revision(engine)}")
    engine.dispose()


@db_group.command("current", with_appcontext=False)
def db_current():
    """Print the database's schema revision and the code's."""
    engine = make_engine(Instance.from_env().database_url)
    click.echo(f"database: {schema.current_revision(engine)}  code: {schema.head_revision()}")
    engine.dispose()


@main.command("demo", with_appcontext=False)
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has committees.")
def demo_command(if_empty: bool):
    """Load the demo province (committees, people, a conference with a draft round, demo accounts)."""
    from ballots import demo

    settings = Settings.from_env()
    pdf_path, paper_path = settings.instance_path / DEMO_BALLOTS, settings.instance_path / DEMO_PAPER
    with _session(settings) as session:
        if demo.has_data(session):
            if if_empty:
                click.echo("database not empty: demo not loaded")
                return
            raise click.ClickException("the database already has committees; the demo loads into an empty one")
        pdf_path.parent.mkdir(parents=True, exist_ok=True)
        with _private_file(str(pdf_path)) as out, _private_file(str(paper_path)) as paper:
            demo.load(session, ballots_pdf=out, paper_pdf=paper, signing_key=settings.signing_key,
                      base_url=settings.base_url)
        session.commit()
    click.echo("demo province loaded; logins:")
    for login in demo.LOGINS:
        click.echo(f"  {login.role:<13} {login.username:<12} {login.password}")
    click.echo(f"ballots of the round ready to vote ({demo.READY_COMMUNE}): {pdf_path}")
    click.echo(f"paper ballots of the round ready to count ({demo.COUNTING_COMMUNE}): {paper_path}")


@main.group("ballots")
def ballots_group():
    """Ballots of a round."""


@main.command("scan", with_appcontext=False)
@click.argument("round_id", type=int)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--teller", required=True, help="The username of the board member whose batch this is.")
def scan_command(round_id: int, files: tuple[str, ...], teller: str):
    """Read a scanner's output (PDF, PNG, JPEG, TIFF) into ROUND_ID's paper count, with a progress bar.

    Each page becomes the scanner's entry of its sheet (ballots.machine_entry): a teller still confirms each sheet
    on the review screen. Each file is recorded in one transaction after its pages are read; a page that cannot
    be read or recorded is named with the reason, and the others carry on. Exits 1 if any page was refused.
    """
    from babel.support import Translations

    from ballots import machine_entry, rounds
    from ballots.errors import BallotError
    from ballots.models import Account

    words = Translations.load(str(Path(__file__).parent / "translations"), ["vi"])
    instance = Instance.from_env()
    lines, refused = [], 0
    with _session(instance) as session:
        account = session.scalar(select(Account).where(Account.username == teller))
        if account is None:
            raise click.ClickException(f"no account {teller!r}")
        with click.progressbar(files, label="đọc phiếu đã quét", item_show_func=lambda f: f or "") as bar:
            for path in bar:
                try:
                    round_ = rounds.get_round(session, round_id)
                    layouts = machine_entry.layouts_of(session, round_)
                    session.rollback()  # no lock held while the pages are read
                    readings = list(machine_entry.read_file(Path(path).read_bytes(), Path(path).name, layouts))
                    outcomes = machine_entry.record_readings(session, rounds.get_round(session, round_id),
                                                             uploader=account, readings=readings)
                except BallotError as exc:
                    session.rollback()
                    raise click.ClickException(words.gettext(exc.message) % exc.params if exc.params
                                               else words.gettext(exc.message)) from None
                session.commit()
                for o in outcomes:
                    refused += o.outcome == machine_entry.REFUSED
                    text = words.gettext(o.message) % o.params if o.params else words.gettext(o.message)
                    reasons = " ".join(words.gettext(r) for r in o.reasons)
                    lines.append(f"{o.source}{', trang ' + str(o.number) if o.number else ''}: {o.outcome}: {text}"
                                 + (f" {reasons}" if reasons else ""))
    for line in lines:
        click.echo(line)
    click.echo(f"{len(lines)} trang; {refused} trang bị từ chối")
    if refused:
        sys.exit(1)


@ballots_group.command("issue", with_appcontext=False)
@click.argument("round_id", type=int)
@click.option("--count", type=int, required=True, help="How many ballots to issue.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True), required=True,
              help="The PDF to write (created with mode 600: it holds the only copy of the secrets).")
@click.option("--paper", type=click.Choice(["A4", "A5"]), default="A4", show_default=True)
@click.option("--actor", default="cli", show_default=True, help="Who issues them, for the audit log.")
def ballots_issue(round_id: int, count: int, out_path: str, paper: str, actor: str):
    """Issue COUNT ballots for ROUND_ID and print them into one PDF, with a progress bar.

    The tokens are committed only once the PDF is written: a failure leaves no ballot that was never printed.
    """
    from ballots import issuing, key_cards, printing, rounds
    from ballots.errors import BallotError

    instance = Instance.from_env()
    with _session(instance) as session:
        try:
            round_ = rounds.get_round(session, round_id)
            issued = issuing.issue_ballots(session, round_, count=count, paper=paper, actor=actor)
        except BallotError as exc:
            raise click.ClickException(str(exc)) from None
        with _private_file(out_path) as out, click.progressbar(length=count, label="printing") as bar:
            done = 0
            sheet = printing.sheet_of(round_)
            for pages in printing.ballot_pages(sheet, issued.secrets, out, base_url=instance.base_url, paper=paper,
                                               front=key_cards.front(sheet, issued.box)):
                bar.update(pages - done)
                done = pages
        session.commit()
    click.echo(f"{count} ballots issued for round {round_id}: {out_path}")


@contextmanager
def _private_file(path: str):
    """A new file only its owner can read; removed again if writing it fails."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
    except BaseException:
        os.unlink(path)
        raise


@main.group("audit")
def audit_group():
    """The hash-chained audit log."""


@audit_group.command("verify", with_appcontext=False)
def audit_verify():
    """Walk the chain, then check every sealed result against its rows and the instance's key; exit 1 on any
    problem, naming the first broken entry and each result that no longer holds."""
    instance = Instance.from_env()
    key_path = instance.signing_key_path
    public_key = signing.public_bytes(load_signing_key(key_path)) if key_path.exists() else None
    key, since = _audit_key(instance)
    anchor_path = instance.instance_path / AUDIT_ANCHOR_FILE
    with _session(instance) as session:
        verdict = audit.verify(reading(session), key, since, anchor=_read_anchor(anchor_path))
        problems = sealing.verify_sealed(session, public_key)
        sealed = session.scalar(select(func.count()).select_from(Result))
    if verdict.ok:
        click.echo(f"audit chain intact: {verdict.entries} entries, head {verdict.head}"
                   + (f" ({verdict.unauthenticated} written before the audit key, not authenticated)"
                      if verdict.unauthenticated else ""))
    else:
        click.echo(f"audit chain BROKEN at entry {verdict.broken_seq}: {verdict.reason} "
                   f"({verdict.entries} entries verified before it)", err=True)
    for problem in problems:
        click.echo(f"sealed result BROKEN: {problem}", err=True)
    if not problems:
        click.echo(f"sealed results intact: {sealed}")
    if problems or not verdict.ok:
        sys.exit(1)
    _write_private_text(anchor_path, f"{verdict.entries} {verdict.head}\n")


def _read_anchor(path) -> tuple[int, str] | None:
    """The head the last successful verification saw ("SEQ HASH"), kept in the instance folder, not the database."""
    try:
        seq, head = path.read_text().split()
        return int(seq), head
    except (FileNotFoundError, ValueError):
        return None


def _write_private_text(path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)


@main.group("key")
def key_group():
    """The instance's Ed25519 signing key."""


@key_group.command("show", with_appcontext=False)
def key_show():
    """Print the public key (to register on the upper level's server) and its fingerprint (printed on minutes)."""
    key = load_signing_key(Instance.from_env().signing_key_path)
    click.echo(f"public key:  {signing.public_bytes(key).hex()}")
    click.echo(f"fingerprint: {signing.fingerprint(key)}")


@main.group("account")
def account_group():
    """Accounts."""


@account_group.command("create", with_appcontext=False)
@click.argument("username")
@click.option("--name", "display_name", default="", help="Display name.")
@click.option("--admin", is_flag=True, help="An administrator (manages accounts; sees no result).")
def account_create(username: str, display_name: str, admin: bool):
    """Create an account; the password is asked for (or read from TRUSTVOTE_PASSWORD)."""
    from ballots.errors import BallotError

    password = os.environ.get("TRUSTVOTE_PASSWORD") or getpass.getpass("Password: ")
    with _session(Instance.from_env()) as session:
        try:
            accounts.create_account(session, username=username, display_name=display_name or username,
                                    password=password, is_admin=admin, actor="cli")
        except BallotError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(f"account {username} created")
