"""Bulk proactive outreach to a segment: per-language template, channel, throttled, once per
contact, cancellable (services in workflows.outreach.services)."""
