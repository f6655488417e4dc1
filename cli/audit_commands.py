"""``starter.py audit``: who did what to which credential, and when (the audit log)."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer

from cli.context import CommandContext
from cli.output import emit_json, table, when
from cli.runner import run_command
from services import audit as audit_service

JSON = typer.Option(False, "--json", help="Print one JSON document instead of text.")


def audit(
    company: int | None = typer.Option(None, "--company", help="Only this company."),
    credential: int | None = typer.Option(None, "--credential", help="Only this credential."),
    action: str | None = typer.Option(
        None, "--action", help='One action (e.g. token.issued), or a prefix ending in "." (sync.).'
    ),
    since: str | None = typer.Option(
        None, "--since", help="Only since then: 24h, 7d, 2024-01-31 or an ISO timestamp."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=200, help="How many entries."),
    json_output: bool = JSON,
) -> None:
    """The audit trail, newest first: credential changes, connection tests, token issuances
    and failures, syncs, schedules, acknowledgements. Never a secret."""

    async def body(ctx: CommandContext) -> None:
        found = await audit_service.audit_log(
            ctx.services,
            ctx.principal,
            company_id=company,
            credential_id=credential,
            action=action,
            since=audit_service.parse_since(since) if since is not None else None,
            page_size=limit,
        )
        if ctx.json_output:
            emit_json([asdict(entry) for entry in found.items])
            return
        table(
            f"Audit log ({len(found.items)} of {found.total})",
            ["id", "when", "actor", "action", "company", "cred", "details"],
            [
                (
                    e.id,
                    when(e.occurred_at),
                    e.actor,
                    e.action,
                    e.company_id,
                    e.credential_id,
                    json.dumps(e.details, ensure_ascii=False, sort_keys=True, default=str),
                )
                for e in found.items
            ],
        )

    run_command(json_output, body)
