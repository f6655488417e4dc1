"""What the record tables hold for one credential, read for reconciliation (never written)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.schema import SOFTWARE, InvoiceStream, MemberStream, RejectedRecord, SyncState


@dataclass(frozen=True)
class StoredRecord:
    key: str
    modified_at: datetime | None
    active: bool | None
    total: Decimal | None
    balance: Decimal | None
    row: tuple[Any, ...]  # the record columns, in the record type's COLUMNS order


async def stored_records(
    connection: AsyncConnection,
    *,
    stream: str,
    company_id: int,
    source_tenant_id: str,
    columns: Sequence[str],
) -> dict[str, StoredRecord]:
    table: Any = InvoiceStream if stream == "invoices" else MemberStream
    key = table.invoice_number if stream == "invoices" else table.customer_id
    active = table.active if stream == "invoices" else table.active_member
    total = table.total if stream == "invoices" else table.balance
    balance = table.balance
    query = select(
        key,
        table.source_modified_at,
        active,
        total,
        balance,
        *(getattr(table, column) for column in columns),
    ).where(
        table.company_id == company_id,
        table.software == SOFTWARE,
        table.source_tenant_id == source_tenant_id,
    )
    result: dict[str, StoredRecord] = {}
    for row in await connection.execute(query):
        values = tuple(row)
        result[values[0]] = StoredRecord(
            key=values[0],
            modified_at=values[1],
            active=values[2],
            total=values[3] if stream == "invoices" else None,
            balance=values[4],
            row=values[5:],
        )
    return result


async def quarantined_ids(connection: AsyncConnection, credential_id: int, stream: str) -> set[str]:
    rows = await connection.execute(
        select(RejectedRecord.record_id)
        .where(
            RejectedRecord.credential_id == credential_id,
            RejectedRecord.stream == stream,
            RejectedRecord.record_id.is_not(None),
        )
        .distinct()
    )
    return {row[0] for row in rows if row[0] is not None}


async def high_water(
    connection: AsyncConnection, credential_id: int, stream: str
) -> datetime | None:
    value: datetime | None = await connection.scalar(
        select(SyncState.high_water_modified_on).where(
            SyncState.credential_id == credential_id, SyncState.stream == stream
        )
    )
    return value
