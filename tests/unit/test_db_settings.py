"""Database settings: DATABASE_URL parsing, the RDS secret format, the source precedence."""

from __future__ import annotations

import pytest
from pushgate import settings
from pushgate.database import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DatabaseSettings,
    DatabaseSource,
    load_database_source,
    parse_database_url,
    read_connect_timeout,
    settings_from_secret,
)
from pushgate.errors import DatabaseConfigError

pytestmark = pytest.mark.unit

PASSWORD = "p@ss:w/rd%20x"
ESCAPED = "p%40ss%3Aw%2Frd%2520x"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+pg8000"])
def test_url_schemes_and_escaped_password(scheme: str) -> None:
    """GIVEN a URL whose password is percent-escaped WHEN parsed THEN the password is the
    original text and every part is found."""
    db = parse_database_url(f"{scheme}://app:{ESCAPED}@db.example.com:6543/orders")

    assert db == DatabaseSettings(
        host="db.example.com", port=6543, user="app", password=PASSWORD, database="orders"
    )


def test_url_defaults_port_and_reads_sslmode() -> None:
    """GIVEN a URL without port and with sslmode=require WHEN parsed THEN port 5432, require."""
    db = parse_database_url("postgresql://app:pw@localhost/orders?sslmode=require")

    assert db.port == 5432
    assert db.sslmode == "require"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("mysql://app:pw@localhost/orders", id="wrong-scheme"),
        pytest.param("postgresql://app:pw@localhost", id="no-database"),
        pytest.param("postgresql://localhost/orders", id="no-user"),
        pytest.param("postgresql://app:pw@localhost:notaport/orders", id="bad-port"),
        pytest.param("postgresql://app:pw@localhost/orders?sslmode=sometimes", id="bad-sslmode"),
    ],
)
def test_bad_urls_are_config_errors_that_do_not_echo_the_password(url: str) -> None:
    """GIVEN a malformed URL WHEN parsed THEN DatabaseConfigError without the password."""
    with pytest.raises(DatabaseConfigError) as error:
        parse_database_url(url.replace(":pw@", f":{ESCAPED}@"))

    assert PASSWORD not in str(error.value)
    assert ESCAPED not in str(error.value)


def test_repr_never_shows_the_password() -> None:
    """GIVEN settings WHEN printed, repr'd or redacted THEN the password is not there."""
    db = DatabaseSettings(host="h", port=5432, user="u", password=PASSWORD, database="d")

    for text in (repr(db), str(db), db.redacted_url, f"{db}"):
        assert PASSWORD not in text
        assert ESCAPED not in text
    assert db.redacted_url == "postgresql://u:***@h:5432/d"


def test_rds_secret() -> None:
    """GIVEN an RDS-format secret (port as a string, extra keys) WHEN read THEN settings."""
    db = settings_from_secret(
        {
            "engine": "postgres",
            "host": "db",
            "port": "5432",
            "username": "app",
            "password": PASSWORD,
            "dbname": "orders",
            "dbInstanceIdentifier": "orders-db",
        }
    )

    assert (db.host, db.port, db.user, db.password, db.database) == (
        "db",
        5432,
        "app",
        PASSWORD,
        "orders",
    )


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("a string", id="not-an-object"),
        pytest.param({"host": "db", "port": 5432, "username": "app", "password": "x"}, id="no-db"),
        pytest.param(
            {"host": "db", "port": "x", "username": "a", "password": "b", "dbname": "c"},
            id="bad-port",
        ),
        pytest.param(
            {"host": "", "port": 1, "username": "a", "password": "b", "dbname": "c"},
            id="empty-host",
        ),
    ],
)
def test_bad_secrets_are_config_errors(secret: object) -> None:
    with pytest.raises(DatabaseConfigError):
        settings_from_secret(secret)


def test_connect_timeout_default_and_validation() -> None:
    """GIVEN no / a valid / an invalid DATABASE_CONNECT_TIMEOUT WHEN read THEN the documented
    default / the value / DatabaseConfigError."""
    assert read_connect_timeout({}) == DEFAULT_CONNECT_TIMEOUT_SECONDS
    assert read_connect_timeout({settings.DATABASE_CONNECT_TIMEOUT: "1.5"}) == 1.5
    for bad in ("soon", "0", "-2"):
        with pytest.raises(DatabaseConfigError):
            read_connect_timeout({settings.DATABASE_CONNECT_TIMEOUT: bad})


def test_source_needs_a_url_or_a_secret() -> None:
    """GIVEN neither setting WHEN the cold start loads the source THEN the error is kept to be
    raised on invocation (the import itself does not fail)."""
    loaded = load_database_source({})

    assert isinstance(loaded, DatabaseConfigError)


def test_source_prefers_the_url_and_keeps_the_secret_arn_otherwise() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
    url = f"postgresql://app:{ESCAPED}@localhost/orders"

    both = DatabaseSource.from_env({settings.DATABASE_URL: url, settings.DATABASE_SECRET_ARN: arn})
    secret_only = DatabaseSource.from_env(
        {settings.DATABASE_SECRET_ARN: arn, settings.DATABASE_SSLMODE: "require"}
    )

    assert both.settings().password == PASSWORD
    assert both.secret_arn is None
    assert PASSWORD not in both.description
    assert secret_only.secret_arn == arn
    assert secret_only.sslmode == "require"
    assert secret_only.url_settings is None


def test_bad_sslmode_setting_is_a_config_error() -> None:
    with pytest.raises(DatabaseConfigError):
        DatabaseSource.from_env(
            {settings.DATABASE_URL: "postgresql://a:b@h/d", settings.DATABASE_SSLMODE: "always"}
        )
