"""The conversations of the past (resolved or closed) and their messages, written in bulk;
the ongoing ones go through the services (`supportdesk.demo.ongoing`)."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from conversations.models import Conversation, Message
from supportdesk.demo.bulk import column_set, copy_rows
from supportdesk.demo.ongoing import ONGOING
from supportdesk.demo.plans import ContactPlan, ConversationPlan
from supportdesk.demo.staff import Staff


def conversations_create(
    plans: list[ContactPlan], *, staff: Staff
) -> list[tuple[ContactPlan, ConversationPlan, Conversation]]:
    made = []
    for plan in plans:
        for c in plan.conversations:
            if c.status in ONGOING:
                continue
            last = c.messages[-1]
            conversation = Conversation(
                contact_id=plan.contact.pk, channel=c.channel, status=c.status,
                language=plan.contact.preferred_language, contact_reason=c.reason,
                priority=c.priority, subject=c.subject,
                assignee_id=staff.agent_ids.get(c.assignee) if c.assignee else None,
                last_message_sequence=len(c.messages), last_message_at=last.at,
                first_response_at=c.first_response_at, resolved_at=c.resolved_at,
                routed_at=c.opened_at,  # history: not for the unrouted sweep
            )
            made.append((plan, c, conversation))
    Conversation.objects.bulk_create([conversation for _, _, conversation in made],
                                     batch_size=5_000)
    # created_at is auto_now_add, so bulk_create stamps "now"; the demo needs the past.
    column_set(Conversation, "created_at", "timestamptz",
               {conversation.pk: c.opened_at for _, c, conversation in made})
    return made


def messages_create(
    conversations: list[tuple[ContactPlan, ConversationPlan, Conversation]], *, staff: Staff
) -> int:
    return copy_rows(
        Message,
        ("conversation", "sequence", "direction", "author_user", "body", "channel_metadata",
         "inserted", "created_at"),
        ((conversation.pk, sequence, m.direction,
          staff.agent_ids.get(m.author) if m.author else None, m.body, Jsonb(m.metadata), Jsonb(list(m.inserted)),
          m.at)
         for _, c, conversation in conversations
         for sequence, m in enumerate(c.messages, start=1)),
    )
