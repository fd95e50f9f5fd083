"""SQLAlchemy models; importing this package registers every table on `Base.metadata`."""

from __future__ import annotations

from .account import AuthToken, LoginFailure, User
from .agency import AgencyRecord, ApiClient, FeedBatch
from .application import Application, ApplicationAction, Decision, Notice, Quota
from .audit import AuditCheckpoint, AuditEvent
from .base import Base
from .declaration import StatusDeclaration
from .determination import Counter, Determination, Job
from .job_file import JobFile
from .keys import KeyFingerprint
from .notice import NoticeRevision, NoticeSettings
from .registry import Guardian, PersonBirth, Region, School, Student
from .rule_set import RuleSet

__all__ = [
    "AgencyRecord",
    "ApiClient",
    "Application",
    "ApplicationAction",
    "AuditCheckpoint",
    "AuditEvent",
    "AuthToken",
    "Base",
    "Counter",
    "Decision",
    "Determination",
    "FeedBatch",
    "Guardian",
    "Job",
    "JobFile",
    "KeyFingerprint",
    "LoginFailure",
    "Notice",
    "NoticeRevision",
    "NoticeSettings",
    "PersonBirth",
    "Quota",
    "Region",
    "RuleSet",
    "School",
    "StatusDeclaration",
    "Student",
    "User",
]
