"""Every PostgreSQL advisory lock key the desk takes, named in one place.

Advisory locks are one namespace per database: two features that picked the same number
would wait on each other (or, with the try-lock, skip their work) for no reason. A key
lives here, under a name saying what it serialises, and `tests/supportdesk/
test_advisory_locks.py` checks that no two are alike.

PostgreSQL has two key spaces that never overlap: one bigint (`pg_advisory_xact_lock(key)`)
and a pair of int4 (`pg_advisory_xact_lock(class, id)`), used here with a fixed class per
feature and an object's id as the second half.
"""

from __future__ import annotations

# --- one bigint key -------------------------------------------------------------------------

# Each chunk of the demo seeding: two seeders running at once take turns instead of
# colliding on the same external ids.
DEMO_SEED = 0x5EED_DE30
# The OMS event drainer: one drains at a time (taken with the try-lock; the others leave).
OMS_DRAIN = 0x0_5D_0E_D5
# The OMS drainer giving way between batches (supportdesk.backpressure): a session lock held
# while it waits, so no other drainer starts a batch meanwhile (nor waits in a worker of its
# own); released with its connection if it dies.
OMS_DRAIN_GIVING_WAY = 0x0_5D_0E_D6
# The segments' membership drainer (workflows.segments): one evaluates at a time.
SEGMENT_MEMBERSHIP = 0x5E6_3E3B
# The reports' counters (reports.rollups): one writer at a time, so two drainers never add the
# same conversation's difference twice, and never lock counter rows in crossing orders.
REPORTS_ROLLUPS = 0x2E_0207_5

# --- (class, object id) pairs: the class, the second half is the object's id -----------------

# Opening a contact's chat: one chat at a time per contact, even when two tabs send their
# first message at once. The second half is the contact id modulo 2**31.
CHAT_OPEN_PER_CONTACT = 4242
# Deciding whether to ask a contact a satisfaction survey (workflows.surveys): two resolutions
# of theirs handled at once still ask once in N days. The second half is the contact id.
SURVEY_PER_CONTACT = 4243
# Deciding whether a workflow run fits the per-contact limit (workflows.services.runs): two
# triggers for one contact at once cannot both fit. The second half is the contact id (one
# decision at a time per contact, whichever workflow: they are short).
WORKFLOW_LIMIT_PER_CONTACT = 4244
# Firing a scheduled workflow over its segment (workflows.services.schedules), a session lock
# held across the firing's chunks: one worker fires a workflow at a time. The second half is
# the workflow id.
SCHEDULE_FIRING = 4245
# Recording a widget visitor's self-service answer (conversations.deflection): two answers of
# theirs at once join one session. The second half is the contact id (or the anonymous
# visitor's id, as a number).
SELF_SERVICE_PER_VISITOR = 4250

SINGLE_KEYS: dict[str, int] = {"DEMO_SEED": DEMO_SEED, "OMS_DRAIN": OMS_DRAIN,
                               "OMS_DRAIN_GIVING_WAY": OMS_DRAIN_GIVING_WAY,
                               "SEGMENT_MEMBERSHIP": SEGMENT_MEMBERSHIP, "REPORTS_ROLLUPS": REPORTS_ROLLUPS}
PAIR_CLASSES: dict[str, int] = {"CHAT_OPEN_PER_CONTACT": CHAT_OPEN_PER_CONTACT,
                                "SURVEY_PER_CONTACT": SURVEY_PER_CONTACT,
                                "WORKFLOW_LIMIT_PER_CONTACT": WORKFLOW_LIMIT_PER_CONTACT,
                                "SCHEDULE_FIRING": SCHEDULE_FIRING,
                                "SELF_SERVICE_PER_VISITOR": SELF_SERVICE_PER_VISITOR}


def pair_id(object_id: int) -> int:
    """An object's id as the second (int4) half of a pair key."""
    return object_id % 2**31
