"""The roster's payloads: schools and students as the API and the import take them, checked strictly.

JSON types are not guessed (a boolean is true or false, an integer is not a string); ID numbers are checked
(format, birth date, check character) and normalised; money is yuan with at most two decimal places.
Validation errors are flattened to field paths ("guardians.0.id_number").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from aidservice.engine.numbers import INTEGER_LIMIT, MONEY_MAX, NumberRefused, bounded_decimal
from aidservice.identity import InvalidIdNumber, normalise_id_number
from aidservice.services.errors import ValidationFailed
from aidservice.services.plaintext import Line, Text
from aidservice.services.sheets.spreadsheets import id_number_problem

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
CODE_MESSAGE = "1-32 letters, digits, - or _"
MAX_GUARDIANS = 6
BOOL_FIELDS = (
    "boarding",
    "rural_hukou",
    "agri_major",
    "arts_performance_major",
    "retired_soldier",
    "salaried",
    "east_west_cooperation",
)
STATE_FIELDS = ("east_west_origin", "enrolment_state", "enrolment_date")
"""Checked against the rules with the stage (`roster_common.seed_errors`): origin and state are enum facts."""
STUDENT_FIELDS = (
    "id_number",
    "name",
    "school_code",
    "class_name",
    "stage",
    "grade",
    *BOOL_FIELDS,
    *STATE_FIELDS,
)
ROW_FIELDS = STUDENT_FIELDS[1:]  # stored as plain columns; the number is sealed (aidservice.crypto)


class StrictBoolean(fields.Boolean):
    """JSON true/false only: 1, "yes" or "false" are type errors, not guesses (imports convert text first)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class StrictInteger(fields.Integer):
    """A JSON integer; booleans, floats and numeric strings are refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        number = super()._deserialize(value, attr, data, **kwargs)
        if abs(number) >= INTEGER_LIMIT:
            raise ValidationError("is too large")
        return number


class IdNumber(fields.String):
    """A resident ID number (GB 11643): format, birth date and check character, normalised to upper-case X."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        problem = id_number_problem(value)
        if problem:
            raise ValidationError(problem)
        try:
            return normalise_id_number(value)
        except InvalidIdNumber as exc:
            raise ValidationError(str(exc)) from None


class Money(fields.Decimal):
    """Yuan as a string ("1250.00"), at most two decimal places, 0 to MONEY_MAX; bounded on its text first."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(as_string=True, validate=validate.Range(min=0, max=MONEY_MAX), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool | float):
            raise ValidationError('must be a string of yuan with two decimal places, e.g. "1250.00"')
        try:
            amount = bounded_decimal(value)
        except NumberRefused as exc:
            raise ValidationError(str(exc)) from None
        if amount != amount.quantize(Decimal("0.01")):
            raise ValidationError("has more than two decimal places (fen)")
        return amount.quantize(Decimal("0.01"))


def _code(**kwargs: Any) -> Text:
    return Text(validate=validate.Regexp(CODE, error=CODE_MESSAGE), **kwargs)


class SchoolPayloadSchema(Schema):
    """A school as PUT /api/v1/schools/{code} takes it; `stages` come from the rules' `stage` values."""

    name = Line(required=True, validate=validate.Length(min=1, max=128))
    region_code = Text(
        required=True,
        validate=validate.Regexp(r"^\d{6}$", error="must be a 6-digit division code"),
        metadata={
            "example": "320102",
            "description": "county (or city) division code; a new county is added",
        },
    )
    stages = fields.List(
        Text(validate=validate.Length(min=1, max=16)),
        required=True,
        validate=validate.Length(min=1, max=8),
        metadata={"example": ["primary", "junior"]},
    )
    kind = Text(required=True, validate=validate.OneOf(["public", "private"]))
    inclusive_kindergarten = StrictBoolean(load_default=False)
    tuition_fee = Money(load_default=None, allow_none=True, metadata={"example": "1250.00"})
    central_university = StrictBoolean(load_default=False)


class GuardianSchema(Schema):
    """A parent or guardian; household statuses reach the student through this ID number."""

    id_number = IdNumber(required=True, metadata={"example": "320102198001010012"})
    name = Line(required=True, validate=validate.Length(min=1, max=64))
    relation = Line(required=True, validate=validate.Length(min=1, max=16), metadata={"example": "father"})


class StudentPayloadSchema(Schema):
    """A student as PUT /api/v1/students/{student_id} takes it (DESIGN.md student payload)."""

    id_number = IdNumber(required=True, metadata={"example": "320102200803010011"})
    name = Line(required=True, validate=validate.Length(min=1, max=64))
    school_code = _code(required=True)
    class_name = Line(load_default="", validate=validate.Length(max=64))
    stage = Text(required=True, validate=validate.Length(min=1, max=16), metadata={"example": "junior"})
    grade = StrictInteger(required=True, metadata={"example": 1})
    boarding = StrictBoolean(load_default=False)
    rural_hukou = StrictBoolean(load_default=False)
    agri_major = StrictBoolean(load_default=False)
    arts_performance_major = StrictBoolean(load_default=False)
    retired_soldier = StrictBoolean(load_default=False)
    salaried = StrictBoolean(load_default=False)
    east_west_cooperation = StrictBoolean(
        load_default=False,
        metadata={"description": "东西协作计划学生 (vocational only; seed item 35)"},
    )
    east_west_origin = Text(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=32),
        metadata={
            "example": "guizhou_tongren",
            "description": "partner region, a value of the rules' `east_west_origin`; required with the flag",
        },
    )
    enrolment_state = Text(
        load_default="enrolled",
        validate=validate.Length(min=1, max=16),
        metadata={
            "example": "enrolled",
            "description": "a value of the rules' `enrolment_state` (seed item 30)",
        },
    )
    enrolment_date = fields.Date(
        load_default=None,
        allow_none=True,
        metadata={
            "example": "2020-09-01",
            "description": "the day the state took effect; required unless enrolled",
        },
    )
    guardians = fields.List(
        fields.Nested(GuardianSchema), load_default=list, validate=validate.Length(max=MAX_GUARDIANS)
    )

    @validates_schema
    def _distinct_people(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """A guardian is someone other than the student, and listed once."""
        seen = {data.get("id_number")}
        errors: dict[int, dict[str, list[str]]] = {}
        for index, guardian in enumerate(data.get("guardians") or []):
            number = guardian["id_number"]
            if number == data.get("id_number"):
                errors[index] = {"id_number": ["is the student's own number"]}
            elif number in seen:
                errors[index] = {"id_number": ["is listed twice"]}
            seen.add(number)
        if errors:
            raise ValidationError({"guardians": errors})


class StudentRowSchema(StudentPayloadSchema):
    """One row of an import: the student payload with its `student_id`."""

    student_id = _code(required=True)


def load_payload(schema: Schema, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a payload; ValidationFailed names each bad field ("guardians.0.id_number")."""
    try:
        return schema.load(payload)
    except ValidationError as exc:
        raise ValidationFailed(flatten(exc.messages)) from None


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {"guardians.0.id_number": [...]}; `_schema` belongs to its parent."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            path = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            for name, texts in flatten(value, path).items():
                flat.setdefault(name, []).extend(texts)
        return flat
    if isinstance(messages, str):
        return {prefix or "body": [messages]}
    flat = {}
    for item in messages:
        for name, texts in flatten(item, prefix).items():
            flat.setdefault(name, []).extend(texts)
    return flat
