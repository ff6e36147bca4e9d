"""A schema-driven fuzz run (schemathesis) against the API's own OpenAPI schema: no server error.

Every operation gets generated requests from a logged-in member, and again from an admin
(who reaches the hosts' operations: cordon, drain, labels, remove), against Django's live
server, on a database with a team, an app, a build and a container to find."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from webui.api.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("as_admin", [False, True], ids=["member", "admin"])
def test_no_operation_answers_with_a_server_error(live_server, owner, app, build, container, host, as_admin):
    if as_admin:
        owner.is_staff = owner.is_superuser = True
        owner.save()
    _, token = ApiToken.issue(owner, "fuzz")
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json", headers=headers)
    errors: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15  # the schema lists the API, not nothing

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            response = case.call(base_url=live_server.url, headers=headers)
            if response.status_code >= 500:
                errors.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}")
        fuzz()
    assert not errors, "\n".join(errors[:10])
