"""Forms of the officer UI (Flask-WTF: every POST form carries a CSRF token). Messages are Chinese texts that
the templates translate; the services check everything again and their messages land next to the same fields.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from aidservice.engine.numbers import MONEY_MAX, NumberRefused, bounded_decimal
from aidservice.engine.result import LEVELS
from aidservice.i18n_marker import N_
from aidservice.services.applications.values import NOTE_MAX, RESOLUTIONS

DECLARABLE_SOURCE = "application"
LEVEL_CHOICES = ["", *reversed(LEVELS)]  # values only: the templates label them in the page's language
ACTION_NAMES = ("review", "publish_notice", "object", "resolve", "approve", "reject", "reassess")


class GetForm(FlaskForm):
    """Search and filter forms: GET, no CSRF token (they change nothing)."""

    class Meta:
        csrf = False


class LoginForm(FlaskForm):
    username = StringField(validators=[DataRequired(N_("请输入用户名")), Length(max=64)])
    password = PasswordField(validators=[DataRequired(N_("请输入密码")), Length(max=1024)])
    next = HiddenField()


class PostForm(FlaskForm):
    """A button that changes something (sign out, read the full ID number): the CSRF token only."""


class IdLookupForm(FlaskForm):
    """Find a student by full ID number: a POST, so the number never sits in a URL (or an access log)."""

    id_number = StringField(validators=[DataRequired(N_("请输入完整的18位身份证号。")), Length(max=32)])


class ImportForm(FlaskForm):
    file = FileField(validators=[InputRequired(N_("请选择文件"))])
    partial = BooleanField()
    background = BooleanField()


class ErrorSheetForm(FlaskForm):
    """The file of a background import again, to have it back with 错误说明 (nothing of it was kept)."""

    file = FileField(validators=[InputRequired(N_("请选择文件"))])


class MoneyField(StringField):
    """A yuan amount kept as typed (so a bad value is shown back as it was), checked as two-place Decimal."""

    def pre_validate(self, form: Any) -> None:
        text = (self.data or "").strip().replace(",", "").replace("，", "").lstrip("¥￥")
        if not text:
            self.data = ""
            return
        try:
            amount = bounded_decimal(text)  # its text checked (length, exponent) before it is made exact
        except NumberRefused:
            raise ValidationError(N_("请输入金额，如 5000.00。")) from None
        if amount < 0:
            raise ValidationError(N_("金额不能为负数。"))
        if amount > MONEY_MAX:
            raise ValidationError(N_("金额不能超过 10000000.00。"))
        if amount != amount.quantize(Decimal("0.01")):
            raise ValidationError(N_("金额最多两位小数。"))
        self.data = text


class ApplicationForm(FlaskForm):
    """The application form's fixed fields; `application_form` adds a yes/no field per fact the rules let the
    family declare (`declared_booleans`) or state as an agency status (`claimable`)."""

    declared_booleans: tuple[str, ...] = ()
    claimable: tuple[str, ...] = ()
    household_size = IntegerField(
        validators=[
            Optional(),
            NumberRange(min=1, message=N_("家庭人口数至少为 1。")),
            NumberRange(max=30, message=N_("家庭人口数最多为 30。")),
        ]
    )
    per_capita_income = MoneyField(validators=[Optional()])
    academic_rank_pct = MoneyField(validators=[Optional()])
    commitment = BooleanField(validators=[DataRequired(N_("必须签署承诺书。"))])
    # one out-of-province status with its document (the service checks each field; choices from the rules)
    oop_status = SelectField(validate_choice=False, default="")
    oop_province = StringField(validators=[Length(max=32, message=N_("省份最多 32 个字符。"))])
    oop_kind = StringField(validators=[Length(max=64, message=N_("最多 64 个字符。"))])
    oop_issuer = StringField(validators=[Length(max=128, message=N_("最多 128 个字符。"))])
    oop_number = StringField(validators=[Length(max=64, message=N_("最多 64 个字符。"))])
    oop_date = StringField(validators=[Length(max=10, message=N_("日期格式 YYYY-MM-DD。"))])

    def validate_academic_rank_pct(self, field: MoneyField) -> None:
        if field.data and not field.errors and not (Decimal("0") <= Decimal(field.data) <= Decimal("100")):
            raise ValidationError(N_("请输入 0 到 100 之间的数。"))

    def declared(self) -> dict[str, Any]:
        """The application's `declared` facts: numbers typed, the ticked yes/no facts and stated statuses."""
        out: dict[str, Any] = {}
        if self.household_size.data is not None:
            out["household_size"] = self.household_size.data
        if self.per_capita_income.data:
            out["per_capita_income"] = self.per_capita_income.data
        if self.academic_rank_pct.data:
            out["academic_rank_pct"] = self.academic_rank_pct.data
        for name in (*self.declared_booleans, *self.claimable):
            if self[name].data:
                out[name] = True
        return out

    def out_of_province(self) -> list[dict[str, Any]]:
        """The declared out-of-province status, if one is chosen, with its document."""
        if not self.oop_status.data:
            return []
        return [
            {
                "status": self.oop_status.data,
                "province": self.oop_province.data or "",
                "document": {
                    "kind": self.oop_kind.data or "",
                    "issuer": self.oop_issuer.data or "",
                    "number": self.oop_number.data or "",
                    "date": self.oop_date.data or "",
                },
            }
        ]

    def field_for(self, key: str) -> Any:
        """The form field a service error key names (`declared.household_size`, `commitment_signed`,
        `out_of_province.0.document.date`)."""
        if key.startswith("out_of_province"):
            last = key.rsplit(".", 1)[-1]
            return self._fields.get(
                f"oop_{last}" if not last.isdigit() and last != "out_of_province" else "oop_status"
            )
        name = key.removeprefix("declared.")
        if name == "commitment_signed":
            name = "commitment"
        return self._fields.get(name)


_FORMS: dict[str, type[ApplicationForm]] = {}


def application_form(rules: Any) -> type[ApplicationForm]:
    """The application form of a rule set (made once per version): a yes/no field for each boolean fact the
    application declares (source `application`), then one for each boolean fact an agency's record sets (the
    statuses, and `disabled_parent`), which the family may state and the records are compared with."""
    found = _FORMS.get(rules.version)
    if found is not None:
        return found
    facts = rules.facts
    booleans = tuple(n for n, s in facts.items() if s.type == "bool" and s.source == DECLARABLE_SOURCE)
    claimable = tuple(n for n, s in facts.items() if s.type == "bool" and n in rules.vocabulary.fact_sources)
    taken = [n for n in (*booleans, *claimable) if hasattr(ApplicationForm, n)]
    if taken:
        raise ValueError(f"facts named like the form's own attributes: {', '.join(taken)}")
    fields: dict[str, Any] = {name: BooleanField() for name in (*booleans, *claimable)}
    form = type(
        "RulesApplicationForm",
        (ApplicationForm,),
        {**fields, "declared_booleans": booleans, "claimable": claimable},
    )
    _FORMS[rules.version] = form
    return form


class ActionForm(FlaskForm):
    """One step of the procedure, naming the version the officer saw; fields are prefixed by the action
    (`review-note`), so the page can hold one form per allowed action."""

    version = HiddenField(validators=[DataRequired(N_("无法办理"))])
    # No Optional(): it would stop the chain before the checks below, which depend on the action.
    note = TextAreaField(validators=[Length(max=NOTE_MAX, message=N_("理由最多 2000 字。"))])
    level = SelectField(choices=LEVEL_CHOICES, validate_choice=False, default="")
    outcome = SelectField(choices=["", *RESOLUTIONS], validate_choice=False, default="")

    def __init__(self, action: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, prefix=action, **kwargs)
        self.action_name = action

    def validate_version(self, field: HiddenField) -> None:
        if not str(field.data or "").isdigit():
            raise ValidationError(N_("无法办理"))

    def validate_note(self, field: TextAreaField) -> None:
        note = (field.data or "").strip()
        if self.action_name in ("object", "resolve", "reject", "reassess") and not note:
            raise ValidationError(N_("请填写理由。"))
        if self.action_name == "review" and self.level.data and not note:
            raise ValidationError(N_("调整等级必须填写理由。"))

    def validate_outcome(self, field: SelectField) -> None:
        field.data = field.data or ""
        if field.data not in field.choices:
            raise ValidationError(N_("请选择复核结论。"))
        if self.action_name == "resolve" and not field.data:
            raise ValidationError(N_("请选择复核结论。"))

    def validate_level(self, field: SelectField) -> None:
        field.data = field.data or ""
        if field.data not in field.choices:
            raise ValidationError(N_("无法办理"))
        if self.action_name == "resolve" and self.outcome.data == "upheld" and not field.data:
            raise ValidationError(N_("异议成立时请选择新等级。"))


class QuotaPlacesForm(FlaskForm):
    """Places for one school, program and year on the quotas page, with the reason kept in the audit trail."""

    school_code = HiddenField(validators=[DataRequired()])
    program = HiddenField(validators=[DataRequired()])
    school_year = HiddenField(validators=[DataRequired()])
    places = IntegerField(
        validators=[InputRequired(N_("请填写名额。")), NumberRange(min=0, message=N_("名额不能小于0。"))]
    )
    reason = StringField(
        validators=[
            DataRequired(N_("请填写调整理由。")),
            Length(max=NOTE_MAX, message=N_("理由最多 2000 字。")),
        ]
    )


class VerifyForm(FlaskForm):
    """The officer's finding on an out-of-province declaration, naming the version they saw."""

    version = HiddenField(validators=[DataRequired(N_("无法办理"))])
    note = TextAreaField(validators=[Length(max=500, message=N_("理由最多 500 字。"))])

    def validate_version(self, field: HiddenField) -> None:
        if not str(field.data or "").isdigit():
            raise ValidationError(N_("无法办理"))


class ReportForm(GetForm):
    kind = SelectField(validate_choice=False, validators=[Optional()])
    period = StringField(validators=[Optional(), Length(max=40)])
    region = StringField(validators=[Optional(), Length(max=32)])


class RedetermineForm(FlaskForm):
    """Re-determine the administrator's region as a background job: confirmed, with a reason for the trail."""

    reason = StringField(
        validators=[
            DataRequired(N_("请填写重新认定的理由。")),
            Length(max=500, message=N_("理由最多 500 字。")),
        ]
    )
    confirm = BooleanField(validators=[DataRequired(N_("请勾选确认。"))])


class NoticeSettingsForm(FlaskForm):
    """A school's notice phone (监督电话) and sign-off (落款); the service checks the formats again."""

    school_code = HiddenField(validators=[DataRequired()])
    contact_phone = StringField(
        validators=[Optional(), Length(max=32, message=N_("监督电话最多 32 个字符。"))]
    )
    signoff = StringField(validators=[Optional(), Length(max=60, message=N_("落款最多 60 个字。"))])
