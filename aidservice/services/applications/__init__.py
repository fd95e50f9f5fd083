"""Applications and their procedure (教财〔2018〕16号): application with the written commitment, class review,
public notice (公示), objection and its review (复核), approval or rejection; the decisions an approval makes,
the quotas (名额) they are allocated within, and the public notice.

Modules, each importing only those listed before it (no cycles):

    procedure       the procedure as pure rules: state machine, working days, instalments, allocation order
    values          clock, money and hash units; the actions and the request that names one
    scope           who reads and who acts on a school's applications
    provinces       the provinces an out-of-province status may come from (not Jiangsu)
    declared_facts  what verified out-of-province declarations add to the facts; reasons naming them
    evaluation      declared facts, the student's facts with sources, what the rules make of them
    history         an action's history row and audit event
    declaration_views  out-of-province declarations as the screen and the API show them
    views           typed views of an application, its student and a decision (to api and web)
    reading         load one, read one for the screen, list within the caller's scope
    declarations    out-of-province declarations: taking them, verifying them before review
    notices         the school's public notice: placing an application on it, reading it
    decision_rows   a decision row: its content hash, instalments, superseding
    quotas          allocating a capped program within its quota (superseding decisions), setting one
    decisions       deciding at approval and reassessment, reading and replaying decisions
    semester        flagging decisions for review after a semester starts or agency data change
    submission      taking an application
    actions         the procedure's steps and reassessment

Lock order, as in every writer: the writers' mutex first where an action changes shared rows (a notice,
decisions and quotas: `audit.lock_writers`), then rows, and the audit chain head last, at commit. Taking
an application and the steps that change only the application (review, objection, its resolution,
rejection) take no mutex: the application itself is guarded optimistically (`Application.version`,
SQLAlchemy's version_id_col) and a second open application by the unique index, so officers of
different schools never wait for each other.
"""
