"""Schemathesis over the API's own OpenAPI schema, as a supervisor and as an agent: whatever the
generated request (valid or not), no 5xx, and every answer is one the schema documents, in the
documented shape. Bounded (examples per operation) so `make test` stays quick; raise
FUZZ_API_EXAMPLES to dig deeper locally."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import AgentFactory, ContactFactory, ConversationFactory, OrderFactory, UserFactory

EXAMPLES = int(os.environ.get("FUZZ_API_EXAMPLES", "15"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# The schema as /api/schema/ serves it, generated in process (no request needed to build it).
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = get_wsgi_application()  # requests go through Django's whole stack, middleware included
# Schema-valid requests and schema-breaking ones (wrong types, missing or extra fields, NUL...).
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], allow_x00=True)


@pytest.fixture(autouse=True)
def _one_connection(db):
    # Django's test client does the same: the request must not close the test's connection (and
    # with it the test's transaction) when it ends.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _token_with_data(user) -> str:
    # Something to find: a contact with an order and a conversation (ids are small integers, which
    # the generator tries first).
    contact = ContactFactory()
    OrderFactory(customer=contact)
    ConversationFactory(contact=contact)
    return Token.objects.create(user=user).key


@pytest.fixture
def supervisor_token(db) -> str:
    return _token_with_data(UserFactory(is_staff=True, is_superuser=True))


@pytest.fixture
def agent_token(db) -> str:
    return _token_with_data(AgentFactory())


def _call_and_check(case, token: str) -> None:
    response = case.call(headers={"Authorization": f"Token {token}"})
    case.validate_response(response, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_the_api_as_a_supervisor_never_fails_and_keeps_to_its_schema(case, supervisor_token):
    _call_and_check(case, supervisor_token)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_the_api_as_an_agent_never_fails_and_keeps_to_its_schema(case, agent_token):
    _call_and_check(case, agent_token)
