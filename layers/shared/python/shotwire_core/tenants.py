"""Tenants and their API keys: create, list, revoke. The admin CLI drives this; so does the local stack's seed.

A key is shown once, when it is issued; only its SHA-256 is stored. A tenant may hold several keys at once,
so a key can be replaced without downtime: issue the new one, deploy it, revoke the old one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from shotwire_core.clock import now_iso
from shotwire_core.ids import hash_api_key, key_hint, new_api_key, new_key_id, new_tenant_id
from shotwire_core.models import ApiKeyRecord, Tenant, TenantLimits
from shotwire_core.signing import generate_webhook_secret


class TenantStore(Protocol):
    def put_tenant(self, tenant: Tenant) -> None: ...
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...
    def list_tenants(self) -> list[Tenant]: ...
    def put_key(self, key_hash: str, record: ApiKeyRecord) -> None: ...
    def list_keys(self, tenant_id: str | None = None) -> list[ApiKeyRecord]: ...
    def revoke_key(self, key_id: str, now: str) -> ApiKeyRecord | None: ...


class UnknownTenantError(LookupError):
    """No tenant with that id."""


class UnknownKeyError(LookupError):
    """No API key with that id."""


@dataclass(frozen=True)
class IssuedKey:
    """A new key: `api_key` exists only here and in the caller's hands."""

    api_key: str
    record: ApiKeyRecord


def issue_key(
    store: TenantStore,
    tenant_id: str,
    name: str = "",
    *,
    api_key: str | None = None,
    now: Callable[[], str] = now_iso,
) -> IssuedKey:
    """A new key for an existing tenant (`api_key` given: register that one, as the local stack's seed does)."""
    if store.get_tenant(tenant_id) is None:
        raise UnknownTenantError(tenant_id)
    key = api_key or new_api_key()
    record = ApiKeyRecord(key_id=new_key_id(), tenant_id=tenant_id, name=name, hint=key_hint(key), created_at=now())
    store.put_key(hash_api_key(key), record)
    return IssuedKey(key, record)


def create_tenant(
    store: TenantStore,
    name: str,
    limits: TenantLimits | None = None,
    *,
    tenant_id: str | None = None,
    webhook_secret: str | None = None,
    api_key: str | None = None,
    now: Callable[[], str] = now_iso,
) -> tuple[Tenant, IssuedKey]:
    """A tenant with its own webhook secret, and its first key (the given ones for the local stack's seed)."""
    tenant = Tenant(
        tenant_id=tenant_id or new_tenant_id(),
        name=name,
        webhook_secret=webhook_secret or generate_webhook_secret(),
        limits=limits or TenantLimits(),
        created_at=now(),
    )
    store.put_tenant(tenant)
    return tenant, issue_key(store, tenant.tenant_id, "first key", api_key=api_key, now=now)


def revoke_key(store: TenantStore, key_id: str, now: Callable[[], str] = now_iso) -> ApiKeyRecord:
    """Revoke a key by its id; the next request with it is refused (lookups are not cached)."""
    record = store.revoke_key(key_id, now())
    if record is None:
        raise UnknownKeyError(key_id)
    return record
