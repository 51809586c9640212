"""The declarative base of every table: a naming convention for constraints (stable Alembic migrations),
timezone-aware UTC datetimes, and the CHECK of a lifecycle state column."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}


def one_of(states) -> str:
    """A CHECK that a state column holds one of the lifecycle's states."""
    return "state IN (" + ",".join(f"'{state.value}'" for state in states) + ")"
