"""The grammar of what a push names: ECR repository names, tags, RFC 3339 times."""

from __future__ import annotations

import pytest
from pushgate.grammar import canonical_time, is_repository_name, parse_time, shown, tag_problem

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2019-11-16T01:54:34Z", "2019-11-16T01:54:34.000000Z"),
        ("2019-11-16t01:54:34z", "2019-11-16T01:54:34.000000Z"),  # RFC 3339 5.6: case-free
        ("2019-11-16T01:54:34.123Z", "2019-11-16T01:54:34.123000Z"),
        ("2019-11-16T01:54:34.1234567891Z", "2019-11-16T01:54:34.123456Z"),  # beyond micros
        ("2019-11-16T02:54:34+01:00", "2019-11-16T01:54:34.000000Z"),
        ("2019-11-15T23:24:34-02:30", "2019-11-16T01:54:34.000000Z"),
    ],
)
def test_an_rfc3339_time_is_stored_in_one_utc_form(text: str, canonical: str) -> None:
    moment = parse_time(text)
    assert moment is not None
    assert canonical_time(moment) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2019-11-16",  # a date is no date-time
        "2019-11-16T01:54:34",  # no offset
        "2019-11-16 01:54:34Z",  # ISO 8601 allows a space; RFC 3339's grammar does not
        "2019-11-16T01:54Z",
        "2019-13-01T00:00:00Z",
        "2019-02-29T00:00:00Z",  # not a leap year
        "2019-11-16T24:00:00Z",
        "2019-11-16T01:54:34+24:00",
        "2019-11-16T01:54:34+01:60",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after 9999 in UTC
        "２０１９-11-16T01:54:34Z",  # noqa: RUF001 - full-width digits are no digits here
        "2019-11-16T01:54:34Z\n",
    ],
)
def test_anything_else_is_no_time(text: str) -> None:
    assert parse_time(text) is None


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("shop/api", True),
        ("a1", True),
        ("team__x/app--v2", True),  # ECR's pattern allows __ and runs of -
        ("a", False),  # shorter than ECR's 2
        ("a" * 256, True),
        ("a" * 257, False),  # longer than ECR's 256
        ("Shop/api", False),
        ("shop//api", False),
        ("/shop", False),
        ("shop/", False),
        ("shop.-api", False),
        ("shop api", False),
    ],
)
def test_repository_names_follow_ecrs_grammar(name: str, valid: bool) -> None:
    assert is_repository_name(name) is valid


@pytest.mark.parametrize(
    ("tag", "ok"),
    [
        ("v1", True),
        ("_x.y-z", True),
        ("A" * 300, True),
        ("A" * 301, False),
        ("", False),
        (".v1", False),
        ("v1/2", False),
        ("v1:2", False),
        ("é", False),
    ],
)
def test_tags_use_dockers_characters_up_to_ecrs_length(tag: str, ok: bool) -> None:
    assert (tag_problem(tag) is None) is ok


def test_shown_keeps_short_values_and_bounds_the_rest() -> None:
    assert shown("shop/api") == "shop/api"
    assert shown("a\tb") == '"a\\tb"'
    assert shown("z" * 1000) == '"' + "z" * 100 + '"... (1000 characters)'
