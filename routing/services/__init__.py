"""Routing use cases: enqueue, match, offer, accept, decline, transfer, complete, presence.

A package along the use cases (STYLE 5a); this module re-exports their public names, so
callers keep writing `from routing import services` and `services.work_item_enqueue(...)`:

- `config`: the attributes rules may test, rule and queue lookup (`route_find`), the
  per-process configuration cache.
- `configure`: supervisors' saves (`queue_save`, `rule_save`, `agent_settings_save`:
  checked, written, audited, routing rebuilt after commit) and the rebuilds themselves.
- `hours`: supervisors' saves of business hours (`business_hours_save`), and what follows
  (open items' deadlines worked out in the new hours).
- `events`: the unit of work (history written in one INSERT, lapsed offers matched again
  at the end) and the history writer.
- `claims`: the slot index, locking an agent and counting their room, giving an item to
  an agent (`claim`) and taking it back (`release`).
- `matching`: the two sides of the match (an item looks for an agent, an agent pulls
  waiting items).
- `items`: enqueue, accept, decline, offer expiry, complete, cancel, transfer.
- `presence`: presence, heartbeats and their expiry; `presence_record`, the one writer of
  an agent's presence and its log.
- `sla`: the service-level steps (escalate, relax, overflow, breach) and their sweep, and
  the stored business-time deadlines worked out again (`deadlines_refresh`).
- `sweep`: the beat's routing sweep and the safety-net rematch.
- `explain`: the dry run.

The modules call one another through the module (`claims.claim(...)`), not names imported
from it: the match is one cycle (a match expires lapsed offers, which may set an agent
away, which returns their items to the match), so the modules import each other.

The decision itself is `routing.engine` (pure); these modules load candidates through the
slot and waiting-item indexes, lock, claim and record.

Locking, so that no agent ever exceeds capacity and no item is held twice under any
number of concurrent workers:

- An item changes state only under its row lock.
- An agent's load changes only under the agent's row lock, and capacity is checked
  against the agent's held items counted under that lock (the slots are only a hint).
- Where both are locked, the item comes first; the one path that starts from the agent
  (pulling waiting work) takes items with SKIP LOCKED, and matching an item takes agents
  with SKIP LOCKED, so two workers never wait on each other in a cycle.
- Offers past their timeout that a use case meets (an agent's room counted, a match or a
  pull finding nobody or nothing) are expired on the spot, items and agents taken with
  SKIP LOCKED, so routing does not depend on the beat's sweep and never waits doing it.
"""

from routing.services import (  # noqa: F401  (the submodules, for callers that want one)
    claims,
    config,
    configure,
    events,
    explain,
    hours,
    items,
    matching,
    presence,
    sla,
    sweep,
)
from routing.services.claims import (
    _slot_state,  # noqa: F401  (read by tests and the bench)
    agent_slots_rebuild,
    engine_agent,
    engine_item,
    slot_candidates,
)
from routing.services.config import (
    ATTRIBUTES,
    CANDIDATES,
    CUSTOM_PREFIX,
    Route,
    RoutingConfig,
    attribute_known,
    attributes_normalise,
    default_queue,
    route_find,
    routing_config,
    routing_config_clear,
    rules_load,
)
from routing.services.configure import (
    ConfigInvalid,
    agent_settings_changed,
    agent_settings_errors,
    agent_settings_save,
    capacity_errors,
    queue_changed,
    queue_errors,
    queue_save,
    rule_errors,
    rule_save,
)
from routing.services.explain import route_explain
from routing.services.hours import (
    HolidayRow,
    IntervalRow,
    business_hours_changed,
    business_hours_errors,
    business_hours_save,
)
from routing.services.items import (
    QUEUE_FIELDS,
    OfferExpired,
    offer_accept,
    offer_decline,
    offers_expire,
    work_item_build,
    work_item_cancel,
    work_item_complete,
    work_item_enqueue,
    work_item_match,
    work_item_transfer,
)
from routing.services.matching import _waiting_for  # noqa: F401  (read by tests and the bench)
from routing.services.presence import agents_heartbeat_expire, heartbeat, presence_record, presence_set
from routing.services.sla import PRIORITY_MAX, SLA_STEPS, deadlines_refresh, sla_sweep
from routing.services.sweep import routing_sweep, waiting_rematch

# The name tests and the bench used before the package.
_slot_candidates = slot_candidates

__all__ = [
    "ATTRIBUTES", "CANDIDATES", "CUSTOM_PREFIX", "PRIORITY_MAX", "QUEUE_FIELDS", "SLA_STEPS",
    "ConfigInvalid", "HolidayRow", "IntervalRow", "OfferExpired", "Route", "RoutingConfig",
    "business_hours_changed", "business_hours_errors", "business_hours_save", "deadlines_refresh",
    "agent_settings_errors", "agent_settings_save", "capacity_errors", "queue_errors", "queue_save",
    "rule_errors", "rule_save",
    "agent_settings_changed", "agent_slots_rebuild", "agents_heartbeat_expire", "attribute_known",
    "attributes_normalise", "default_queue", "engine_agent", "engine_item", "heartbeat",
    "offer_accept", "offer_decline", "offers_expire", "presence_record", "presence_set", "queue_changed",
    "route_explain", "route_find", "routing_config", "routing_config_clear", "routing_sweep",
    "rules_load", "sla_sweep", "slot_candidates", "waiting_rematch", "work_item_build", "work_item_cancel",
    "work_item_complete", "work_item_enqueue", "work_item_match", "work_item_transfer",
]
