"""Engines, sessions and migrations: one URL in, a ready database out.

The first use of a URL in a process runs the Alembic migrations (under a lock, so many workers starting
at once migrate once), which is what lets the embedded SQLite file appear on first use with no setup
step. Engines are cached per URL: pass URLs, not engines or sessions, between Prefect tasks.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same in every process that migrates.
PG_MIGRATION_LOCK = 7_315_220_411

log = logging.getLogger(__name__)
T = TypeVar("T")

_engines: dict[str, Engine] = {}
_upgraded: set[str] = set()
_lock = threading.Lock()


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def safe_url(url: str) -> str:
    """The URL with its password masked: the only form that may reach a log."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling begins lazily and DEFERRED, so two writers can deadlock on
    # the read->write upgrade; we take over and begin IMMEDIATE (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """The process-wide engine for `url` (created once; SQLite parent folders created too)."""
    with _lock:
        engine = _engines.get(url)
        if engine is not None:
            return engine
        if is_sqlite(url):
            database = make_url(url).database
            if database and database != ":memory:":
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 60})
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_on_begin)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Close pooled connections (tests, and forked workers, which must not share sockets)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _upgraded.clear()


def alembic_config(url: str) -> Config:
    """Alembic's config built in code, so migrations work from an installed package with no .ini."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # configparser treats % as interpolation; passwords may contain it.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(url: str) -> str | None:
    with make_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _migration_lock(url: str, engine: Engine) -> Iterator[Connection | None]:
    if is_sqlite(url):
        database = make_url(url).database
        if not database or database == ":memory:":
            yield None
            return
        lock_path = Path(database).expanduser().with_suffix(".migrate.lock")
        with open(lock_path, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield None
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
    else:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": PG_MIGRATION_LOCK})
            conn.commit()
            try:
                yield conn
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PG_MIGRATION_LOCK})
                conn.commit()


@contextmanager
def _sqlite_foreign_keys_off(engine: Engine) -> Iterator[Connection]:
    """A connection for migrations. On SQLite, batch mode rebuilds a table (create, copy, DROP, rename),
    and with foreign keys on, that DROP deletes every row that references the table through ON DELETE
    CASCADE (rebuilding `catalogs` would empty `catalog_videos`): keys are off while it runs (the pragma
    only takes effect outside a transaction), and on again before the connection returns to the pool."""
    with engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            yield conn
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def upgrade(url: str, revision: str = "head") -> str | None:
    """Migrate the database at `url` to `revision`; returns the revision it is at afterwards."""
    engine = make_engine(url)
    with _migration_lock(url, engine), _sqlite_foreign_keys_off(engine) as conn, conn.begin():
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    if revision == "head":
        _upgraded.add(url)
    return current_revision(url)


def downgrade(url: str, revision: str) -> str | None:
    """Migrate the database at `url` back to `revision`; returns the revision it is at afterwards."""
    engine = make_engine(url)
    with _migration_lock(url, engine), _sqlite_foreign_keys_off(engine) as conn, conn.begin():
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    _upgraded.discard(url)
    return current_revision(url)


def ensure_schema(url: str) -> None:
    """Upgrade once per process per URL; cheap after the first call."""
    if url in _upgraded:
        return
    if current_revision(url) == head_revision():
        _upgraded.add(url)
        return
    upgrade(url)


def session_factory(url: str) -> sessionmaker[Session]:
    ensure_schema(url)
    return sessionmaker(bind=make_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any error. Keep it short (no model calls)."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def with_db_retry(window_s: float, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:  # noqa: ANN401
    """`fn(*args, **kwargs)`, retried while the database is unreachable, for up to `window_s` seconds.

    Only connection-level errors (server down, connection reset) are retried: anything else is raised at
    once. Callers keep `fn` idempotent, which every writer here is.
    """
    deadline = time.monotonic() + window_s
    delay = 0.5
    while True:
        try:
            return fn(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("database unreachable (%s); retrying in %.1f s", str(exc).splitlines()[0][:200], delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
