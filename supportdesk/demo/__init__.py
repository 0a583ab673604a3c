"""Demo data: staff speaking many languages, contacts of all three kinds, and their history.

It serves two purposes: `make run` loads a few hundred contacts so the desk has something to
show, and benchmarks load 100,000 or more. It seeds every app (timeline, routing,
conversations), so it lives at the composition root, one module per thing it seeds; the
names callers use are re-exported here.

Deterministic and idempotent:

- Contact number i (0-based) always gets the same kind and external id, and draws
  everything about itself (name, orders, conversations) from its own generator seeded with
  (seed, i). So a contact looks the same whichever run or chunk creates it, and raising
  `contacts` later only adds the new ones. Timestamps are relative to the run, so the
  history always ends "now".
- Contacts come in blocks of ten that share a language and country: one courier, one
  partner, eight customers. A customer's orders go to couriers and partners of its own
  block and of earlier blocks with the same language, which always have smaller numbers,
  so they exist by the time the customer is created.
- Each chunk of contacts is written in one transaction, with all its dependent rows
  (orders, status history, conversations, messages, timeline). A run that stops half-way
  leaves whole chunks; the next run creates only the contacts whose external ids are
  missing, with their rows.

History is written in bulk (bulk_create, and COPY for the biggest tables, whose ids nobody
needs back), not through the services, which write row by row. The ongoing conversations
(open or pending: the last hours' few) do go through the services, as real traffic does, so
routing has their work items and their agents find them in their workspaces
(`supportdesk.demo.ongoing`). The bulk shapes follow the services: the timeline kinds and
payloads are those the `timeline.events` writers record, message sequences run 1..n with
`last_message_sequence = n`, and each customer's lifetime order value and order count are
what `timeline.services.customer_totals_refresh` computes from the orders. Past conversations
get the work items and routing history routing would have recorded (`work_plans`,
`work_items`). As nothing written in bulk passes through the outbox, what the layers above
derive from the history is worked out at the end: the seeding runs the steps the apps
registered from their ready() (`supportdesk.seeding`; the reports' counters, `reports.demo`),
without importing them.
"""

from supportdesk.demo.agents import AGENTS, CHAT_LANGUAGES, SENIOR_AGENTS, AgentSpec
from supportdesk.demo.chat import CONTACT_REASONS, MACROS, demo_chat_ensure
from supportdesk.demo.common import (
    AGENT_PASSWORD,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONTACTS,
    DEFAULT_SEED,
    MAX_CONTACTS,
    SUPERVISOR_PASSWORD,
    SUPERVISOR_USERNAME,
)
from supportdesk.demo.places import LANGUAGE_CYCLE, LOCALES
from supportdesk.demo.plans import ContactPlan, ConversationPlan, contact_identity, contact_plan
from supportdesk.demo.queues import demo_routing_ensure
from supportdesk.demo.seed import ChunkProgress, SeedResult, demo_seed
from supportdesk.demo.staff import Staff, demo_staff_ensure

__all__ = [
    "AGENTS", "AGENT_PASSWORD", "CHAT_LANGUAGES", "CONTACT_REASONS", "DEFAULT_CHUNK_SIZE", "DEFAULT_CONTACTS",
    "DEFAULT_SEED", "LANGUAGE_CYCLE", "LOCALES", "MACROS", "MAX_CONTACTS", "SENIOR_AGENTS", "SUPERVISOR_PASSWORD",
    "SUPERVISOR_USERNAME", "AgentSpec", "ChunkProgress", "ContactPlan", "ConversationPlan", "SeedResult", "Staff",
    "contact_identity", "contact_plan", "demo_chat_ensure", "demo_routing_ensure", "demo_seed",
    "demo_staff_ensure",
]
