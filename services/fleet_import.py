"""Bulk onboarding: credentials from a CSV file, secrets from a file only its owner may read.

The CSV has a header and the columns ``company`` (the company's id, or its Intacct id),
``tenant`` (or ``tenant_id``), ``client_id`` (or ``client id``) and ``environment``. Secrets
never sit in that file: they come as ``client_id,client_secret`` lines from a separate file
whose mode gives nobody but its owner any access (``0600``/``0400``), or from standard input.

Every row is checked first, against the file and the database; if any row is wrong nothing
is created and every problem is reported. Otherwise all credentials are created in one
transaction (each audited ``credential.created``) and then tested one by one, exactly as
``credentials test`` does (token plus one API call, connection status recorded, audited).
"""

from __future__ import annotations

import csv
import io
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from db import credentials as store
from db.schema import ENVIRONMENTS
from services.access import Action, may, visible
from services.companies import list_companies
from services.context import ServiceContext
from services.credentials import LIMITS, list_credentials, test_connection
from services.errors import Forbidden, Invalid, ServiceError, translated
from services.identity import Principal

MAX_ROWS = 1000
COLUMNS = ("company", "tenant_id", "client_id", "environment")
ALIASES = {"tenant": "tenant_id", "client": "client_id", "company_id": "company"}


@dataclass(frozen=True)
class ImportRow:
    line: int  # in the CSV file, header = 1
    company: str
    tenant_id: str
    client_id: str
    environment: str


@dataclass(frozen=True)
class RowResult:
    line: int
    credential_id: int
    company_id: int
    tenant_id: str
    environment: str
    verdict: str  # the connection test's verdict, "error" when it could not run
    reason: str
    connected: bool


@dataclass
class ImportReport:
    """``problems`` non-empty: nothing was created. Otherwise one result per row."""

    problems: list[str] = field(default_factory=list)
    results: list[RowResult] = field(default_factory=list)

    @property
    def imported(self) -> bool:
        return not self.problems

    @property
    def all_connected(self) -> bool:
        return self.imported and all(r.connected for r in self.results)


def _header(name: str) -> str:
    key = "_".join(name.strip().lower().replace("-", " ").split())
    return ALIASES.get(key, key)


def parse_rows(text: str) -> list[ImportRow]:
    """The CSV's rows (``Invalid`` for a missing column or an empty or oversized file)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None:
        raise Invalid("the CSV file is empty", "file")
    names = [_header(h) for h in header]
    absent = [c for c in COLUMNS if c not in names]
    if absent:
        raise Invalid(
            f"the CSV header lacks {', '.join(absent)} (columns: {', '.join(COLUMNS)})", "file"
        )
    where = {c: names.index(c) for c in COLUMNS}
    rows: list[ImportRow] = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        cells = cells + [""] * (len(names) - len(cells))
        rows.append(ImportRow(number, *(cells[where[c]].strip() for c in COLUMNS)))
        if len(rows) > MAX_ROWS:
            raise Invalid(f"at most {MAX_ROWS} credentials per file", "file")
    if not rows:
        raise Invalid("the CSV file has no credential rows", "file")
    return rows


def parse_secrets(text: str) -> dict[str, str]:
    """``client_id,client_secret`` lines; blank lines, ``#`` comments and a header skipped."""
    secrets: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        client_id, comma, secret = stripped.partition(",")
        client_id, secret = client_id.strip(), secret.strip()
        if _header(client_id) == "client_id" and _header(secret) == "client_secret":
            continue
        if not comma or not client_id:
            # Never echo the line: it may be a secret.
            raise Invalid(f"secrets line {number} is not client_id,client_secret", "secrets")
        if client_id in secrets:
            raise Invalid(f"secrets line {number}: a second secret for one client id", "secrets")
        secrets[client_id] = secret
    return secrets


def read_secrets_file(path: Path) -> dict[str, str]:
    """The secrets of a file that its owner alone may read (this process's user)."""
    try:
        info = path.stat()
    except OSError as error:
        raise Invalid(f"cannot read the secrets file {path}: {error.strerror}", "secrets") from None
    if not stat.S_ISREG(info.st_mode):
        raise Invalid(f"the secrets file {path} is not a regular file", "secrets")
    if info.st_mode & 0o077:
        raise Invalid(
            f"the secrets file {path} is readable by others (mode {stat.S_IMODE(info.st_mode):o}); "
            f"`chmod 600 {path}` first",
            "secrets",
        )
    if info.st_uid != os.getuid():
        raise Invalid(f"the secrets file {path} belongs to another user", "secrets")
    return parse_secrets(path.read_text(encoding="utf-8"))


def _problems(
    row: ImportRow,
    company_id: int | None,
    secrets: dict[str, str],
) -> list[str]:
    found: list[str] = []
    if company_id is None:
        found.append(f"no company {row.company!r}")
    if not row.tenant_id.isdigit() or len(row.tenant_id) > LIMITS["tenant_id_max_length"]:
        found.append(f"tenant must be ServiceTitan's numeric tenant id (got {row.tenant_id!r})")
    if row.environment not in ENVIRONMENTS:
        found.append(
            f"environment must be one of {', '.join(ENVIRONMENTS)} (got {row.environment!r})"
        )
    if not row.client_id or not row.client_id.isprintable():
        found.append("client id must be printable text, not blank")
    elif len(row.client_id) > LIMITS["client_id_max_length"]:
        found.append("client id is too long")
    secret = secrets.get(row.client_id, "")
    if not secret:
        found.append(f"no client secret for client id {row.client_id!r} in the secrets")
    elif len(secret) > LIMITS["client_secret_max_length"]:
        found.append("the client secret is too long")
    return found


async def check_rows(
    ctx: ServiceContext, principal: Principal, rows: list[ImportRow], secrets: dict[str, str]
) -> tuple[list[str], dict[int, int]]:
    """Every problem of every row (``line N: …``), and each row's company id by line."""
    if not may(principal, Action.MANAGE):
        raise Forbidden(f"role {principal.role} may not add credentials")
    companies = await list_companies(ctx, principal)
    by_id = {str(c.id): c.id for c in companies}
    by_intacct = {c.intacct_id: c.id for c in companies}
    taken = {(c.company_id, c.environment): c.id for c in await list_credentials(ctx, principal)}
    problems: list[str] = []
    chosen: dict[int, int] = {}
    seen: dict[tuple[int, str], int] = {}
    for row in rows:
        company_id = by_id.get(row.company, by_intacct.get(row.company))
        if company_id is not None and not visible(principal, company_id):
            company_id = None
        found = _problems(row, company_id, secrets)
        if company_id is not None:
            chosen[row.line] = company_id
            key = (company_id, row.environment)
            if key in taken:
                found.append(
                    f"company {company_id} already has a {row.environment} credential "
                    f"(#{taken[key]}; one per company and environment)"
                )
            elif key in seen:
                found.append(
                    f"line {seen[key]} already adds the {row.environment} credential "
                    f"of company {company_id}"
                )
            seen.setdefault(key, row.line)
        problems += [f"line {row.line}: {problem}" for problem in found]
    return problems, chosen


async def import_credentials(
    ctx: ServiceContext, principal: Principal, rows: list[ImportRow], secrets: dict[str, str]
) -> ImportReport:
    """Check every row, create all credentials or none, then test each one."""
    problems, companies = await check_rows(ctx, principal, rows, secrets)
    if problems:
        return ImportReport(problems=problems)
    created: list[tuple[ImportRow, int]] = []
    with translated():
        async with ctx.database.transaction() as connection:
            for row in rows:
                credential_id = await store.add_credential(
                    connection,
                    ctx.box,
                    company_id=companies[row.line],
                    tenant_id=row.tenant_id,
                    client_id=row.client_id,
                    client_secret=secrets[row.client_id],
                    environment=row.environment,
                    actor=principal.actor,
                )
                created.append((row, credential_id))
    report = ImportReport()
    for row, credential_id in created:
        # One at a time: a test closes the shared HTTP pool when it ends.
        try:
            check = await test_connection(ctx, principal, credential_id)
            verdict, reason, connected = check.verdict, check.reason, check.connected
        except ServiceError as error:
            verdict, reason, connected = "error", error.message, False
        report.results.append(
            RowResult(
                line=row.line,
                credential_id=credential_id,
                company_id=companies[row.line],
                tenant_id=row.tenant_id,
                environment=row.environment,
                verdict=verdict,
                reason=reason,
                connected=connected,
            )
        )
    return report
