"""Schemathesis against the service's own OpenAPI document: no 5xx, no response that breaks it.

The service runs as a real `dispatch serve` process (its own event loop, real Redis and the
suite's database) and schemathesis drives every documented operation with generated
requests as an operator (who may see everything) and as a customer (who may create orders).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from schemathesis import BaseSchema
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
)
from schemathesis.generation.case import Case
from schemathesis.openapi import from_url

from benchmarks._support import service_process
from dispatch.auth.tokens import TokenSigner
from dispatch.redis_server import EmbeddedRedis
from tests.conftest import TEST_SECRET
from tests.support import database

EXAMPLES = 20
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance,
          response_headers_conformance]


@pytest.fixture(scope="module")
def api_url(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[str]:
    """A running service on the suite's database (a fresh PostgreSQL schema, or SQLite)."""
    env = {"DISPATCH_REDIS_URL": redis_server.url, "DISPATCH_SECRET_KEY": TEST_SECRET,
           "DISPATCH_DATA_DIR": str(tmp_path_factory.mktemp("openapi")),
           "DISPATCH_PASSWORD_TIME_COST": "1", "DISPATCH_PASSWORD_MEMORY_KIB": "64",
           "DISPATCH_RATE_FRAMES_PER_S": "1000"}
    url, schema = database.suite_database_url(), database.new_schema_name()
    if url:
        env |= {"DISPATCH_DATABASE_URL": url, "DISPATCH_DATABASE_SCHEMA": schema}
    with service_process(env, core=None) as (port, _):
        yield f"http://127.0.0.1:{port}"
    if url:
        asyncio.run(database.drop_schema(url, schema))


@pytest.fixture(scope="module")
def api_schema(api_url: str) -> BaseSchema:
    return from_url(f"{api_url}/openapi.json")


SIGNER = TokenSigner(TEST_SECRET)


def call_as(case: Case, role: str) -> None:
    """Send the generated request with a token of `role` and run the checks."""
    token = SIGNER.mint(f"schemathesis-{role}", role)
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS,
                           timeout=30)


def exercise(api_schema: BaseSchema, role: str) -> None:
    """Every operation of the document, `EXAMPLES` generated requests each, as `role`.

    (Schemathesis's pytest plugin cannot take a schema from a fixture under pytest 9, so
    the operations' Hypothesis strategies are driven directly.)
    """
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15, "the OpenAPI document lost its operations"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Case) -> None:
            call_as(case, role)

        run()


@pytest.mark.parametrize("role", ["operator", "customer", "rider"])
def test_every_operation_answers_within_its_schema(api_schema: BaseSchema, role: str) -> None:
    exercise(api_schema, role)
