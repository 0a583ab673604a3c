"""The messaging channel through the WhatsApp Business Cloud API (plain HTTP with requests: the
API is a few JSON calls, and a client library would add nothing the tests and the fake
provider need)."""
