"""schemathesis against the OpenAPI schema, in-process on the ASGI app: no 5xx, every answer matches the schema."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from keel.service import create_app
from tests.service.support import live_run

TOKEN = "schemathesis-token-0123456789"
hub, _run, _control = live_run(12)
app = create_app(hub, None, token=TOKEN)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate()
