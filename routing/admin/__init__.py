"""Supervisors' routing admin: queues, their business hours, rules with their conditions,
agents' routing settings, the audit of every change to them, a dry run of the rules, and the
work items (read-only).

One module per admin; importing them registers them. Every save of a queue, business hours,
a rule or an agent's settings leaves a `RoutingAudit` row (`routing.audit`) and tells the
services what changed: waiting items take a queue's new priority and tier, open items their
deadlines in the queue's business hours, an agent's slots are rebuilt.
"""

from routing.admin import agents, audit, hours, items, mixins, queues, rules  # noqa: F401  (registers them)
