"""A throw-away PostgreSQL server from the installed binaries, for machines that run none."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa


class PostgresUnavailable(Exception):
    """No server answers and none can be started here."""


def server_answers(url: str) -> bool:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


def _find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ThrowawayPostgres:
    directory: Path
    port: int
    run_as: list[str]
    pg_ctl: str

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @classmethod
    def start(cls) -> ThrowawayPostgres:
        initdb, pg_ctl = _find_binary("initdb"), _find_binary("pg_ctl")
        if not initdb or not pg_ctl:
            raise PostgresUnavailable("no server answers and initdb/pg_ctl are not installed")
        directory = Path(tempfile.mkdtemp(prefix="pma-pg-"))
        run_as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            run_as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(directory, user="postgres")
        port = _free_port()
        data = directory / "data"
        subprocess.run([*run_as, initdb, "-D", str(data), "-U", "postgres", "-A", "trust"],
                       check=True, capture_output=True)
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-l", str(directory / "log"), "-w", "-o",
             f"-p {port} -k {directory} -h 127.0.0.1", "start"],
            check=True, capture_output=True,
        )
        return cls(directory=directory, port=port, run_as=run_as, pg_ctl=pg_ctl)

    def stop(self) -> None:
        subprocess.run([*self.run_as, self.pg_ctl, "-D", str(self.directory / "data"), "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def throwaway_schema(base_url: str, prefix: str = "t") -> Iterator[str]:
    """A URL whose search_path is a new, empty schema, dropped afterwards whatever happened: each
    test (or benchmark) gets a clean database on a shared server."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
