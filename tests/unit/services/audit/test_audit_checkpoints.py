"""Anchored audit chain: `aid audit checkpoint` records the head and exports its line; `aid audit verify` holds
the recomputed chain against every recorded checkpoint and external anchor, so a wholesale rewrite (every hash
recomputed consistently) or a removed tail is detected."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import delete, select, update

from aidservice.extensions import db
from aidservice.models import AuditCheckpoint, AuditEvent, Counter
from aidservice.services import audit
from aidservice.services.actors import Actor

pytestmark = pytest.mark.databases

OFFICER = Actor("user", "officer_a", 1, "school_officer", school_code="S-A")


def add_events(n: int) -> None:
    for i in range(n):
        audit.record(
            db.session,
            actor=OFFICER,
            action="student.update",
            subject=f"student:S{i}",
            summary={"after": {"grade": i}},
            request_id=f"r{i}",
        )
    db.session.commit()


def cli(app: Flask, *args: str) -> tuple[int, str]:
    """Run `aid audit ...`; the output holds stdout and stderr (click's runner mixes them)."""
    result = app.test_cli_runner().invoke(args=["aid", "audit", *args])
    return result.exit_code, result.output


def checkpoint(app: Flask, output: Path | None = None) -> dict[str, object]:
    code, text = cli(app, "checkpoint", *(["--output", str(output)] if output else []))
    assert code == 0, text
    return json.loads(text.strip().splitlines()[-1])


def rewrite_whole_chain(*, new_grade: int, keep_checkpoints_consistent: bool = True) -> None:
    """What someone who can write the database does: change an event, recompute every later hash, the head and
    (if asked) the checkpoints, so that the chain by itself verifies."""
    events = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
    previous = audit.GENESIS
    rewritten: dict[int, str] = {0: audit.GENESIS}
    for event in events:
        if event.seq == 2:
            event.summary = {"after": {"grade": new_grade}}
        event.prev_hash = previous
        event.hash = audit.event_hash(event)
        previous = rewritten[event.seq] = event.hash
    head = db.session.get(Counter, "audit")
    head.last_hash = previous
    if keep_checkpoints_consistent:
        for row in db.session.execute(select(AuditCheckpoint)).scalars():
            row.chain_hash = rewritten[row.seq]
    db.session.commit()
    db.session.expire_all()


def remove_tail(count: int, *, drop_checkpoints: bool) -> None:
    """Delete the last `count` events and set the head back, so the shortened chain verifies by itself."""
    head = db.session.get(Counter, "audit")
    keep = head.value - count
    db.session.execute(delete(AuditEvent).where(AuditEvent.seq > keep))
    last = db.session.execute(select(AuditEvent).where(AuditEvent.seq == keep)).scalar_one()
    head.value, head.last_hash = keep, last.hash
    if drop_checkpoints:
        db.session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > keep))
    db.session.commit()
    db.session.expire_all()


def test_a_clean_chain_passes_with_its_checkpoints_and_anchor(app: Flask, tmp_path: Path) -> None:
    anchor = tmp_path / "anchor.jsonl"
    add_events(3)
    first = checkpoint(app, anchor)
    add_events(2)
    second = checkpoint(app, anchor)
    assert first["seq"] == 3 and second["seq"] == 6  # the first checkpoint's own audit event is seq 4
    assert len(anchor.read_text().splitlines()) == 2
    assert db.session.query(AuditCheckpoint).count() == 2
    code, text = cli(app, "verify", "--anchor", str(anchor))
    assert (code, text) == (0, "audit chain intact: 7 event(s) verified, 2 external anchor(s) matched\n")


def test_the_checkpoint_line_is_the_head_and_is_itself_audited(app: Flask) -> None:
    add_events(2)
    line = checkpoint(app)
    head = db.session.execute(select(AuditEvent).where(AuditEvent.seq == 2)).scalar_one()
    assert line["seq"] == 2 and line["chain_hash"] == head.hash and str(line["created_at"]).endswith("+00:00")
    own = db.session.execute(select(AuditEvent).where(AuditEvent.action == "audit.checkpoint")).scalar_one()
    assert own.seq == 3 and own.summary == {"seq": 2, "chain_hash": head.hash}


def test_an_empty_chain_can_be_anchored(app: Flask, tmp_path: Path) -> None:
    anchor = tmp_path / "anchor.jsonl"
    line = checkpoint(app, anchor)
    assert line["seq"] == 0 and line["chain_hash"] == audit.GENESIS
    assert cli(app, "verify", "--anchor", str(anchor))[0] == 0


def test_a_wholesale_rewrite_is_detected_by_the_exported_anchor(app: Flask, tmp_path: Path) -> None:
    anchor = tmp_path / "anchor.jsonl"
    add_events(4)
    checkpoint(app, anchor)
    rewrite_whole_chain(new_grade=9)
    assert cli(app, "verify")[0] == 0  # chain and database checkpoints were rewritten consistently
    code, text = cli(app, "verify", "--anchor", str(anchor))
    assert code == 1
    assert (
        "BROKEN at event seq 4" in text and f"{anchor}, line 1 does not match" in text and "rewritten" in text
    )


def test_a_rewrite_that_leaves_the_checkpoint_table_is_detected_without_an_anchor(app: Flask) -> None:
    add_events(4)
    checkpoint(app)
    rewrite_whole_chain(new_grade=9, keep_checkpoints_consistent=False)
    code, text = cli(app, "verify")
    assert code == 1 and re.search(r"checkpoint \d+ does not match the chain at seq 4", text)


@pytest.mark.parametrize("drop_checkpoints", [False, True])
def test_a_truncated_tail_is_detected(app: Flask, tmp_path: Path, drop_checkpoints: bool) -> None:
    anchor = tmp_path / "anchor.jsonl"
    add_events(5)
    checkpoint(app, anchor)  # covers seq 5; its own event is seq 6
    remove_tail(3, drop_checkpoints=drop_checkpoints)  # seq 4..6 gone, head set back to 3
    with_anchor = cli(app, "verify", "--anchor", str(anchor))
    assert with_anchor[0] == 1 and "covers event seq 5 but the chain ends at seq 3" in with_anchor[1]
    assert (cli(app, "verify")[0] == 1) is not drop_checkpoints  # without the anchor only the table can tell


def test_a_broken_chain_is_not_anchored(app: Flask, tmp_path: Path) -> None:
    add_events(3)
    db.session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(summary={"after": {"grade": 7}}))
    db.session.commit()
    db.session.expire_all()
    anchor = tmp_path / "anchor.jsonl"
    code, text = cli(app, "checkpoint", "--output", str(anchor))
    assert code == 1 and "not anchored" in text and "seq 2" in text
    assert not anchor.exists() and db.session.query(AuditCheckpoint).count() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "line 1: not a checkpoint line"),
        ('\n{"seq": 1}\n', "line 2: not a checkpoint line"),
        ('{"seq": -1, "chain_hash": "' + "0" * 64 + '"}\n', "line 1: seq must be a whole number"),
        (
            '{"seq": 1, "chain_hash": "abc"}\n',
            "line 1: seq must be a whole number and chain_hash 64 hex digits",
        ),
    ],
)
def test_a_bad_anchor_file_is_refused_naming_the_line(
    app: Flask, tmp_path: Path, content: str, message: str
) -> None:
    anchor = tmp_path / "anchor.jsonl"
    anchor.write_text(content)
    add_events(1)
    code, text = cli(app, "verify", "--anchor", str(anchor))
    assert code == 2 and message in text
