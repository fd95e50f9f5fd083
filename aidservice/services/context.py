"""What use cases need from configuration, passed in explicitly so services never read Flask's config."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from aidservice.schoolyear import current_semester_start

if TYPE_CHECKING:
    from aidservice.crypto import IdVault
    from aidservice.engine import RuleSet


@dataclass(frozen=True, slots=True)
class Settings:
    """The loaded rules, the current school year and the keys services use."""

    rules: RuleSet
    school_year: str
    id_hmac_key: str
    ids: IdVault  # seals identity numbers at rest and opens them for an authorised, audited read
    today: date | None = field(default=None)  # tests pin it; None means the real date
    holidays: tuple[date, ...] = ()  # AID_HOLIDAYS: days that are not working days besides weekends

    def __post_init__(self) -> None:
        if self.ids.hmac_key != self.id_hmac_key:
            raise ValueError("Settings.ids must match on the keyed hash key (id_hmac_key)")

    def current_date(self) -> date:
        """Today, as the services see it (pinned in tests)."""
        return self.today or date.today()

    def default_as_of(self) -> date:
        """First day of the current semester of the configured school year."""
        return current_semester_start(self.school_year, self.current_date())
