// Generated from supportdesk/protocol.py by `python manage.py protocol_js`: edit that, not this.
// tests/supportdesk/test_protocol.py fails while the two differ.

export const CloseCode = Object.freeze({
  "TRY_AGAIN_LATER": 1013,
  "NOT_SIGNED_IN": 4401,
  "NOT_AN_AGENT": 4403,
  "RATE_LIMITED": 4429
});

export const Frame = Object.freeze({
  "READY": "ready",
  "SYNCED": "synced",
  "WATCHING": "watching",
  "ACK": "ack",
  "ERROR": "error",
  "EMAIL_SAVED": "email_saved",
  "ENDED": "ended",
  "CHAT_MESSAGE": "chat.message",
  "CHAT_TYPING": "chat.typing",
  "CHAT_READ": "chat.read",
  "CHAT_STATUS": "chat.status",
  "CHAT_AGENT": "chat.agent",
  "CHAT_NOTICE": "chat.notice",
  "CHAT_SURVEY": "chat.survey",
  "CHAT_DELIVERY": "chat.delivery",
  "CHAT_CALL": "chat.call",
  "RATED": "rated",
  "ROUTING_ITEM": "routing.item",
  "ROUTING_PRESENCE": "routing.presence",
  "SUPERVISOR_SNAPSHOT": "supervisor.snapshot"
});

export const ClientFrame = Object.freeze({
  "SYNC": "sync",
  "READ": "read",
  "TYPING": "typing",
  "MESSAGE": "message",
  "EMAIL": "email",
  "RATE": "rate",
  "END": "end",
  "WATCH": "watch",
  "UNWATCH": "unwatch",
  "HEARTBEAT": "heartbeat"
});
