"""The voice channel through a Twilio-compatible provider: the number's webhooks in (inbound.py,
views.py; TwiML from twiml.py), the desk's call actions out over its REST API (outbound.py,
registered with conversations.calls), and a local simulator of both (fake_server.py)."""
