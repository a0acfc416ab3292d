"""Tenants and API keys through the admin CLI (`python -m admin`) on moto, checked against the API function."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from admin.__main__ import main as admin
from tests.integration.conftest import Aws
from tests.integration.test_api import call


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]], str]:
    code = admin(list(args))
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.strip()], err


def test_a_new_tenant_s_key_works_is_listed_by_hint_and_stops_working_when_revoked(
    aws_stack: Aws, api_module: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    code, (created,), err = run(capsys, "tenants", "create", "--name", "Acme", "--monthly-quota", "500")
    assert code == 0 and "not shown again" in err
    key, tenant_id = created["apiKey"], created["tenantId"]
    assert key.startswith("sw_live_") and created["webhookSecret"].startswith("whsec_")
    assert created["limits"] == {"requestsPerSecond": 10.0, "burst": 20, "monthlyQuota": 500}

    status, body, _ = call(api_module, "GET", "/v1/screenshots/job_unknown", key=key)
    assert status == 404, body  # authenticated: the job is simply not there

    code, (second,), _ = run(capsys, "keys", "create", "--tenant", tenant_id, "--name", "ci")
    assert code == 0 and second["apiKey"] != key and second["tenantId"] == tenant_id

    code, listed, _ = run(capsys, "keys", "list", "--tenant", tenant_id)
    assert code == 0 and {k["keyId"] for k in listed} == {created["keyId"], second["keyId"]}
    assert all("apiKey" not in k for k in listed)
    assert {k["hint"] for k in listed} == {f"{key[:8]}…{key[-4:]}", f"{second['apiKey'][:8]}…{second['apiKey'][-4:]}"}

    code, (revoked,), _ = run(capsys, "keys", "revoke", created["keyId"])
    assert code == 0 and revoked["revokedAt"]
    status, body, _ = call(api_module, "GET", "/v1/screenshots/job_unknown", key=key)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    status, _, _ = call(api_module, "GET", "/v1/screenshots/job_unknown", key=second["apiKey"])
    assert status == 404  # the tenant's other key still works: rotation without downtime


def test_keys_and_secrets_are_stored_only_as_hashes(aws_stack: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    _, (created,), _ = run(capsys, "tenants", "create", "--name", "Hashed")
    from shotwire_core.adapters.aws import client

    items = client("dynamodb").scan(TableName=aws_stack.keys.table_name)["Items"]
    assert created["apiKey"] not in json.dumps(items)
    code, tenants, _ = run(capsys, "tenants", "list")
    assert code == 0 and created["tenantId"] in {t["tenantId"] for t in tenants}
    assert all("webhookSecret" not in t for t in tenants)


def test_bad_admin_input_is_refused_plainly(aws_stack: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "keys", "create", "--tenant", "ten_nobody")
    assert code == 2 and "no tenant ten_nobody" in err
    code, _, err = run(capsys, "keys", "revoke", "key_nothing")
    assert code == 2 and "no key key_nothing" in err
    code, _, err = run(capsys, "tenants", "create", "--name", "x", "--burst", "0")
    assert code == 2 and "burst" in err
