"""`python -m admin`: operate a shotwire stack from the command line.

    tenants create --name NAME [--requests-per-second R] [--burst B] [--monthly-quota Q]
    tenants list
    keys create --tenant TENANT_ID [--name LABEL]
    keys list [--tenant TENANT_ID]
    keys revoke KEY_ID
    dlq list | dlq redrive          (the webhook DLQ after an endpoint outage)

Resource names come from the stack config, as for the deployed stack and the local one. Against the
local stack (`make dev`), pass `--local` (moto on SHOTWIRE_MOTO_PORT, default 8001); against AWS, the
usual credentials and region. New API keys and webhook secrets are printed once and never stored.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from pydantic import ValidationError

from shotwire_core.adapters.aws import client
from shotwire_core.adapters.dynamo import JobTable, KeyTable
from shotwire_core.adapters.messaging import Queue
from shotwire_core.config import StackConfig, load_stack_config
from shotwire_core.models import ApiKeyRecord, Tenant, TenantLimits
from shotwire_core.redrive import list_parked, redrive
from shotwire_core.tenants import UnknownKeyError, UnknownTenantError, create_tenant, issue_key, revoke_key


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m admin", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--local", action="store_true", help="talk to the local stack's moto server")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    areas = parser.add_subparsers(dest="area", required=True)

    tenants = areas.add_parser("tenants", help="customer accounts").add_subparsers(dest="action", required=True)
    create = tenants.add_parser("create", help="a tenant with its webhook secret and first API key")
    create.add_argument("--name", required=True)
    defaults = TenantLimits()
    create.add_argument("--requests-per-second", type=float, default=defaults.requests_per_second)
    create.add_argument("--burst", type=int, default=defaults.burst)
    create.add_argument("--monthly-quota", type=int, default=defaults.monthly_quota, help="captures per month")
    tenants.add_parser("list", help="every tenant (secrets not shown)")

    keys = areas.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    key_create = keys.add_parser("create", help="another key for a tenant (shown once)")
    key_create.add_argument("--tenant", required=True)
    key_create.add_argument("--name", default="", help="a label, e.g. where the key is deployed")
    key_list = keys.add_parser("list", help="keys by id and hint, with their state")
    key_list.add_argument("--tenant")
    key_revoke = keys.add_parser("revoke", help="stop a key from working")
    key_revoke.add_argument("key_id")

    dlq = areas.add_parser("dlq", help="the webhook dead-letter queue")
    dlq.add_argument("action", choices=["list", "redrive"])
    return parser


def _print(value: dict[str, Any]) -> None:
    print(json.dumps(value))


def _tenant_view(tenant: Tenant) -> dict[str, Any]:
    return tenant.model_dump(mode="json", exclude={"webhook_secret", "previous_webhook_secret"}, exclude_none=True)


def _key_view(record: ApiKeyRecord) -> dict[str, Any]:
    return record.model_dump(mode="json", exclude_none=True)


def _tenants(args: argparse.Namespace, config: StackConfig) -> int:
    store = KeyTable(config.keys_table)
    if args.action == "list":
        for tenant in store.list_tenants():
            _print(_tenant_view(tenant))
        return 0
    try:
        limits = TenantLimits(
            requests_per_second=args.requests_per_second, burst=args.burst, monthly_quota=args.monthly_quota
        )
    except ValidationError as error:
        for problem in error.errors():
            print(f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}", file=sys.stderr)
        return 2
    tenant, issued = create_tenant(store, args.name, limits)
    _print(
        {
            **_tenant_view(tenant),
            "webhookSecret": tenant.webhook_secret,
            "apiKey": issued.api_key,
            "keyId": issued.record.key_id,
        }
    )
    print("store the API key and webhook secret now: they are not shown again", file=sys.stderr)
    return 0


def _keys(args: argparse.Namespace, config: StackConfig) -> int:
    store = KeyTable(config.keys_table)
    if args.action == "list":
        for record in store.list_keys(args.tenant):
            _print(_key_view(record))
        return 0
    if args.action == "create":
        try:
            issued = issue_key(store, args.tenant, args.name)
        except UnknownTenantError:
            print(f"no tenant {args.tenant}", file=sys.stderr)
            return 2
        _print({**_key_view(issued.record), "apiKey": issued.api_key})
        print("store the API key now: it is not shown again", file=sys.stderr)
        return 0
    try:
        _print(_key_view(revoke_key(store, args.key_id)))
    except UnknownKeyError:
        print(f"no key {args.key_id}", file=sys.stderr)
        return 2
    return 0


def _dlq(args: argparse.Namespace, config: StackConfig) -> int:
    sqs = client("sqs")
    dead_letters = Queue(sqs.get_queue_url(QueueName=config.webhook_dlq)["QueueUrl"])
    if args.action == "list":
        parked = list_parked(dead_letters)
        for entry in parked:
            print(json.dumps(entry))
        print(f"{len(parked)} parked in {config.webhook_dlq}", file=sys.stderr)
        return 0
    report = redrive(
        dlq=dead_letters,
        jobs=JobTable(config.jobs_table),
        retry_queue=Queue(sqs.get_queue_url(QueueName=config.webhook_retry_queue)["QueueUrl"]),
    )
    for job_id in report.redriven:
        print(f"redriven {job_id}")
    for message_id, why in report.skipped:
        print(f"left parked {message_id}: {why}")
    print(f"{len(report.redriven)} redriven, {len(report.skipped)} left in {config.webhook_dlq}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("AWS_DEFAULT_REGION", args.region)
    if args.local:
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{os.environ.get('SHOTWIRE_MOTO_PORT', '8001')}"
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    config = load_stack_config()
    commands = {"tenants": _tenants, "keys": _keys, "dlq": _dlq}
    return commands[args.area](args, config)


if __name__ == "__main__":
    raise SystemExit(main())
