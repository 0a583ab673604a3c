import pytest

from tests.asgi_client import AsgiClient


@pytest.fixture
def oms_client() -> AsgiClient:
    """Posts to the OMS webhook through the ASGI application, where it is routed."""
    return AsgiClient()
