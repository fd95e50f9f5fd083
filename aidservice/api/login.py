"""POST /api/v1/auth/login and /logout: a bearer token for a user's session, and ending it."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import Unauthorized

from aidservice.api.auth import current_actor, require_user
from aidservice.api.common import Blueprint, DateTime
from aidservice.ratelimit import rate_limited
from aidservice.requestid import current_request_id
from aidservice.services.accounts.accounts import PASSWORD_MAX, login, logout
from aidservice.services.accounts.auth import AuthenticationFailed
from aidservice.services.accounts.devices import TOKEN_MAX_LENGTH
from aidservice.services.actors import ROLES
from aidservice.unit_of_work import unit_of_work
from aidservice.wiring import device_tokens, login_guard

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in and out")

WRONG_CREDENTIALS = "Invalid username or password."


class LoginSchema(Schema):
    """Credentials of an officer, administrator or auditor."""

    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=PASSWORD_MAX))
    device = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=TOKEN_MAX_LENGTH),
        metadata={
            "description": "The `device` token this client got from its last sign-in to this account: "
            "failures from a known device are counted against that device alone, and it may "
            "still sign in while the account is locked for unrecognised devices."
        },
    )


class SessionUserSchema(Schema):
    """Who signed in and what they may reach."""

    username = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    school_code = fields.String(required=True, allow_none=True)
    region_code = fields.String(required=True, allow_none=True)


class SessionSchema(Schema):
    """A session: send `Authorization: Bearer <token>` until `expires_at`; keep `device` for the next sign-in."""

    token = fields.String(required=True)
    expires_at = DateTime(required=True)
    device = fields.String(
        required=True,
        metadata={
            "description": "This client's new device token for this account (180 days): "
            "send it as `device` when signing in next time."
        },
    )
    user = fields.Nested(SessionUserSchema, required=True)


@blp.route("/login", methods=["POST"])
@rate_limited("login")
@blp.arguments(LoginSchema)
@blp.response(200, SessionSchema)
@blp.alt_response(
    401, response="UNAUTHORIZED", description="Unknown user or wrong password (one message for both)"
)
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE", description="Body is not application/json")
@blp.alt_response(
    429,
    response="TOO_MANY_REQUESTS",
    description="Too many failed sign-ins: this device, or the account's "
    "unrecognised devices, locked for 15 minutes, or this "
    "address for a minute; or too many sign-ins from this "
    "address (AID_RATELIMIT_LOGIN)",
)
def sign_in(body: dict[str, Any]) -> dict[str, Any]:
    """Check the password and open a session; the token is returned once and stored only as a hash."""
    try:
        # a failure commits its count (database throttle); a failed sign-in writes nothing else
        with unit_of_work(commit_on=(AuthenticationFailed,)) as uow:
            result = login(
                uow.session,
                username=body["username"],
                password=body["password"],
                address=request.remote_addr,
                guard=login_guard(),
                request_id=current_request_id(),
                devices=device_tokens(),
                device_tokens=[body["device"]] if body.get("device") else [],
            )
    except AuthenticationFailed:
        raise Unauthorized(WRONG_CREDENTIALS) from None
    user = result.user
    return {
        "token": result.token,
        "expires_at": result.expires_at,
        "device": result.device_token,
        "user": {
            "username": user.username,
            "role": user.role,
            "school_code": user.school_code,
            "region_code": user.region_code,
        },
    }


@blp.route("/logout", methods=["POST"])
@require_user()
@blp.response(204)
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid session token")
def sign_out() -> None:
    """Revoke the token this request was made with."""
    token = request.headers["Authorization"].partition(" ")[2].strip()
    with unit_of_work() as uow:
        logout(uow.session, actor=current_actor(), token=token, request_id=current_request_id())
