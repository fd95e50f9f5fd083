"""Password rules for accounts (services.passwords): at creation (`aid user create`) and on change (`aid user password`)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from aidservice.extensions import db
from aidservice.models import AuditEvent, AuthToken, User
from aidservice.services.accounts import passwords
from aidservice.services.accounts.auth import check_password, resolve_token
from aidservice.services.errors import ValidationFailed
from tests.world.factories import TEST_PASSWORD, make_user

NEW_PASSWORD = "Quiet river, 2021"


@pytest.mark.parametrize(
    ("password", "username", "rule"),
    [
        ("Ab1!Ab1!Ab1", None, "at least 12 characters"),  # 11 characters
        ("x" * 1025, None, "at most 1024 characters"),
        ("123456789012", None, "only digits"),
        ("abcdefghijkmnop", None, "two kinds of character"),
        ("ABCDEFGHIJKMNOP", None, "two kinds of character"),
        ("!@#$%^&*()_+-=", None, "two kinds of character"),
        ("olga", "olga", "at least 12 characters"),
        ("my-name-is-OLGA-1", "olga", "must not contain the username"),
        ("olga.lin@2020ok", "olga.lin", "must not contain the username"),
        ("qwerty123456", None, "well-known"),
        ("Password2020!", None, "well-known"),
        ("P@ssw0rd-2021", None, "well-known"),
        ("2020Welcome!!", None, "well-known"),
        ("1qaz2wsx3edc", None, "well-known"),
        ("Jiangsu 2020 !", None, "well-known"),
    ],
)
def test_a_password_breaking_a_rule_is_refused_naming_the_rule(
    password: str, username: str | None, rule: str
) -> None:
    found = passwords.problems(password, username)
    assert any(rule in message for message in found), found


@pytest.mark.parametrize(
    "password",
    ["correct horse battery", "Tr0ub4dor&3xyz", "demo-school-2020", "长江后浪推前浪 2020", "RIVERSTONE42X"],
)
def test_a_long_mixed_uncommon_password_is_accepted(password: str) -> None:
    assert passwords.problems(password, "olga") == []


def test_every_broken_rule_is_named_at_once() -> None:
    with pytest.raises(ValidationFailed) as refused:
        from aidservice.services.accounts.accounts import check_new_password

        check_new_password("olga", "olga")
    assert len(refused.value.errors["password"]) == 3  # too short, one kind of character, the username


def test_the_listed_passwords_all_meet_the_length_so_the_list_is_what_refuses_them() -> None:
    for listed in passwords.COMMON:
        assert len(listed) >= passwords.MIN_LENGTH, listed
        assert passwords.is_common(listed)


def run_password(app: Flask, username: str, password: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["aid", "user", "password", username], input=password + "\n")


@pytest.mark.databases
def test_user_password_sets_a_new_password_and_ends_open_sessions(app: Flask, db_url: str) -> None:
    _user, token = make_user(db.session, "auditor", username="olga")
    result = run_password(app, "olga", NEW_PASSWORD)
    assert result.exit_code == 0, result.output
    assert "1 open sessions ended" in result.output
    changed = db.session.execute(sa.select(User).where(User.username == "olga")).scalar_one()
    assert check_password(changed.password_hash, NEW_PASSWORD) and not check_password(
        changed.password_hash, TEST_PASSWORD
    )
    with pytest.raises(Exception, match="revoked"):
        resolve_token(db.session, token)
    [event] = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "user.password")).scalars()
    assert event.subject == "user:olga" and NEW_PASSWORD not in str(event.summary)


@pytest.mark.databases
@pytest.mark.parametrize(
    ("password", "message"), [("olga-is-my-name", "username"), ("qwerty123456", "well-known")]
)
def test_user_password_refuses_a_weak_password_and_changes_nothing(
    app: Flask, db_url: str, password: str, message: str
) -> None:
    user, _token = make_user(db.session, "auditor", username="olga")
    before, user_id = user.password_hash, user.id
    db.session.commit()  # the command rolls back its own failure, not the account made here
    result = run_password(app, "olga", password)
    assert result.exit_code == 1 and message in result.output, result.output
    db.session.expire_all()
    assert db.session.get(User, user_id).password_hash == before  # type: ignore[union-attr]
    assert db.session.execute(sa.select(AuthToken).where(AuthToken.revoked_at.is_not(None))).first() is None
    assert (
        db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "user.password")).first() is None
    )


@pytest.mark.databases
def test_user_password_names_an_unknown_user(app: Flask, db_url: str) -> None:
    result = run_password(app, "nobody", NEW_PASSWORD)
    assert result.exit_code == 1 and "no user nobody" in result.output
