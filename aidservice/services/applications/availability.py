"""Which steps an application's page offers, and why the others cannot be taken now: an officer sees a button
only for a step that can succeed, and for the others the reason (the state, the notice still open and the day
approval becomes possible, nothing to publish, declarations to verify first).

The same checks as the actions make (actions, procedure), read from the application's view and today's date,
so the page never offers a step the service would refuse for these reasons.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TypedDict

from aidservice.services.applications.procedure import TRANSITIONS
from aidservice.services.applications.values import EXTRA_ACTIONS
from aidservice.services.applications.views import ApplicationView

MAIN_STEPS = ("review", "publish_notice", "approve", "reject")
"""Shown on every open application, allowed or not: the procedure's path."""
WHILE_ALLOWED = ("object", "resolve")
"""Shown only when the state allows them (an objection during the notice, its review once objected)."""


class StepAvailability(TypedDict):
    """One step on the page: allowed, or the reason it is not (with the state, the states it needs, a date)."""

    action: str
    allowed: bool
    reason: str | None  # state | notice_open | notice_over | nothing_to_publish | declarations_pending
    state: str
    needs: list[str]  # the states the step is taken from
    closes_on: date | None
    possible_from: date | None  # approval: the first day after the notice period (its working days)


def steps(view: ApplicationView, today: date) -> list[StepAvailability]:
    """The steps the page shows, in procedure order: finished applications offer reassessment once approved."""
    state = view["state"]
    if state == "rejected":
        return []
    if state in EXTRA_ACTIONS["reassess"]:
        return [_step(view, "reassess", today)]
    shown = [*MAIN_STEPS, *(a for a in WHILE_ALLOWED if a in view["allowed_actions"])]
    order = list(TRANSITIONS)
    return [_step(view, action, today) for action in sorted(shown, key=order.index)]


def _step(view: ApplicationView, action: str, today: date) -> StepAvailability:
    notice = view["notice"]
    closes = notice["closes_on"] if notice is not None else None
    needs = list(TRANSITIONS[action][0]) if action in TRANSITIONS else list(EXTRA_ACTIONS[action])
    step = StepAvailability(
        action=action,
        allowed=False,
        reason=None,
        state=view["state"],
        needs=needs,
        closes_on=closes,
        possible_from=None,
    )
    if action not in view["allowed_actions"]:
        step["reason"] = "state"
    elif action == "approve" and (closes is None or today <= closes):
        step["reason"] = "notice_open"
        step["possible_from"] = closes + timedelta(days=1) if closes is not None else None
    elif action == "object" and (closes is None or today > closes):
        step["reason"] = "notice_over"
    elif action == "publish_notice" and view["level"] == "none":
        step["reason"] = "nothing_to_publish"
    elif action == "review" and any(d["state"] == "pending" for d in view["out_of_province"]):
        step["reason"] = "declarations_pending"
    else:
        step["allowed"] = True
    return step
