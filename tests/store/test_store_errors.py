"""Database failures leave the store as Dure's own errors, so the API answers 503 or 422
in words instead of a stack trace, and the live sink knows when to spool."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, ProgrammingError

from dure.domain.plant import Site
from dure.domain.users import Caller, Role
from dure.errors import Conflict, InvalidInput, StoreRefused, StoreUnavailable
from dure.store.blobs import BlobStore
from dure.store.engine import make_engine
from dure.store.secrets import SecretBox
from dure.store.session import Store, _translated
from tests.factories import World


def test_an_unreachable_database_is_unavailable_not_an_internal_error(tmp_path: Path) -> None:
    store = Store(
        make_engine("postgresql+psycopg://dure@127.0.0.1:9/none"),
        BlobStore(tmp_path),
        SecretBox(tmp_path / "keys"),
    )
    with pytest.raises(StoreUnavailable, match="cannot be reached"):
        store.ping()
    with pytest.raises(StoreUnavailable):
        with store.system():
            pass


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (
            OperationalError("SELECT 1", None, Exception("server closed the connection")),
            StoreUnavailable,
        ),
        (DataError("INSERT", None, ValueError("text fields cannot contain NUL")), StoreRefused),
        (IntegrityError("INSERT", None, Exception("duplicate key value")), Conflict),
    ],
)
def test_driver_errors_become_dures_own(raised: Exception, expected: type) -> None:
    with pytest.raises(expected):
        with _translated():
            raise raised


def test_a_programming_error_stays_an_internal_error() -> None:
    with pytest.raises(ProgrammingError):
        with _translated():
            raise ProgrammingError("SELEC", None, Exception("syntax error"))


def test_a_nul_in_a_name_is_refused_before_the_database_sees_it(store: Store, world: World) -> None:
    """PostgreSQL cannot hold a NUL in text (it would answer StoreRefused): Dure refuses it
    first, naming the field, on every backend."""
    caller = Caller(org_id=world.b.org.id, user_id=None, role=Role.ADMIN, org_kind="supplier")
    with pytest.raises(InvalidInput, match="control character") as caught:
        with store.session(caller) as s:
            s.sites.add(Site(org_id=world.b.org.id, name="plant\x00two"))
    assert caught.value.field == "name"
