"""``python -m sandbox``: serve a sandbox, change a running one, or measure serving speed.

    python -m sandbox serve --port 0 --port-file /tmp/st.port --seed 42 \\
        --tenants 1001:50000:100000,1002:500:1000
    python -m sandbox mutate --url http://127.0.0.1:PORT --tenant 1001 --modify 10 --add 5
    python -m sandbox bench --invoices 100000

Tenant credentials default to ``cid.sandbox-<tenant>`` / ``cs1.sandbox-<tenant>`` (give
``tenant:customers:invoices:client_id:secret`` to choose them). Secrets are never printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sandbox.config import DEFAULT_APP_KEY, SandboxConfig, parse_tenants

DEFAULT_TENANTS = "1001:400:1200,1002:60:150"


def _serve(args: argparse.Namespace) -> int:
    from sandbox.server import serve_forever
    from sandbox.state import Sandbox

    config = SandboxConfig(
        tenants=parse_tenants(args.tenants),
        app_keys=set(args.app_key or [DEFAULT_APP_KEY]),
        seed=args.seed,
        token_ttl_seconds=args.token_ttl,
        export_page_size=args.export_page_size,
        rate_limit_per_second=args.rate_limit,
        page_cache_bytes=int(args.page_cache_mb * 1024 * 1024),
        prefetch=not args.no_prefetch,
    )
    sandbox = Sandbox(config)
    if args.allow_non_loopback:
        print(
            "warning: --allow-non-loopback: the sandbox (and its unauthenticated admin API) "
            f"accepts connections on {args.host}; this is for the docker-compose demo only",
            file=sys.stderr,
            flush=True,
        )
    if args.warm:
        sandbox.warm()

    def ready(port: int) -> None:
        host = f"[{args.host}]" if ":" in args.host else args.host
        lines = [f"ServiceTitan sandbox listening on http://{host}:{port} (seed {args.seed})"]
        for t in config.tenants:
            lines.append(
                f"  tenant {t.tenant_id}: client id {t.client_id}, "
                f"{t.customers} customers, {t.invoices} invoices"
            )
        lines.append(
            f"  app keys: {', '.join(sorted(config.app_keys))}; default secrets follow "
            "cs1.sandbox-<tenant>; admin API under /_sandbox/"
        )
        print("\n".join(lines), flush=True)

    serve_forever(
        sandbox,
        args.host,
        args.port,
        Path(args.port_file) if args.port_file else None,
        args.log_level,
        on_ready=None if args.quiet else ready,
        allow_non_loopback=args.allow_non_loopback,
    )
    return 0


def _mutate(args: argparse.Namespace) -> int:
    import httpx

    body = {
        "tenant_id": args.tenant,
        "modify": args.modify,
        "add": args.add,
        "deactivate": args.deactivate,
        "merge": args.merge,
        "contacts": args.contacts,
        "kinds": args.kinds.split(","),
    }
    if args.seed is not None:
        body["seed"] = args.seed
    response = httpx.post(f"{args.url.rstrip('/')}/_sandbox/mutate", json=body, timeout=60)
    print(json.dumps(response.json(), indent=2))
    return 0 if response.status_code == 200 else 1


def _bench(args: argparse.Namespace) -> int:
    from sandbox.bench import run_bench

    result = run_bench(
        invoices=args.invoices,
        customers=args.customers,
        page_size=args.page_size,
        rounds=args.rounds,
        rate_limit=args.rate_limit,
        page_cache_mb=args.page_cache_mb,
        warm=args.warm,
        prefetch=not args.no_prefetch,
    )
    print(json.dumps(result, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve a sandbox over HTTP (loopback only)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--port-file", help="write the port here once listening")
    serve.add_argument("--seed", type=int, default=42)
    serve.add_argument(
        "--tenants",
        default=DEFAULT_TENANTS,
        help="tenant:customers:invoices[:client_id:secret],... (default %(default)s)",
    )
    serve.add_argument("--app-key", action="append", help="accepted ST-App-Key (repeatable)")
    serve.add_argument("--token-ttl", type=int, default=900, help="expires_in of tokens")
    serve.add_argument("--export-page-size", type=int, default=1000)
    serve.add_argument(
        "--rate-limit", type=float, default=60.0, help="requests/s per (app key, tenant); 0 = off"
    )
    serve.add_argument("--page-cache-mb", type=float, default=256.0)
    serve.add_argument(
        "--warm", action="store_true", help="pre-build full-export pages into the cache"
    )
    serve.add_argument(
        "--no-prefetch", action="store_true", help="do not build the next export page early"
    )
    serve.add_argument("--log-level", default="warning")
    serve.add_argument("--quiet", action="store_true", help="no start-up banner")
    serve.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="DEMO ONLY (docker-compose): accept a non-loopback --host such as 0.0.0.0; "
        "the admin API has no authentication, so never expose it beyond a private network",
    )
    serve.set_defaults(func=_serve)

    mutate = sub.add_parser("mutate", help="change records of a running sandbox")
    mutate.add_argument("--url", required=True, help="the sandbox's base URL")
    mutate.add_argument("--tenant", type=int, required=True)
    for name in ("modify", "add", "deactivate", "merge", "contacts"):
        mutate.add_argument(f"--{name}", type=int, default=0)
    mutate.add_argument("--kinds", default="customers,invoices")
    mutate.add_argument("--seed", type=int)
    mutate.set_defaults(func=_mutate)

    bench = sub.add_parser("bench", help="measure a full invoice export over real HTTP")
    bench.add_argument("--invoices", type=int, default=100_000)
    bench.add_argument("--customers", type=int, default=20_000)
    bench.add_argument("--page-size", type=int, default=1000)
    bench.add_argument("--rounds", type=int, default=2)
    bench.add_argument("--rate-limit", type=float, default=0.0, help="0 = unlimited")
    bench.add_argument("--page-cache-mb", type=float, default=256.0)
    bench.add_argument("--warm", action="store_true", help="start the server with --warm")
    bench.add_argument("--no-prefetch", action="store_true", help="serve with --no-prefetch")
    bench.set_defaults(func=_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return code
