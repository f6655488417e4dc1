"""A faithful ServiceTitan API simulator: the demo's data source, every test's server, the
benchmarks' load.

    from sandbox import Sandbox, SandboxConfig, TenantSpec, create_app

    sandbox = Sandbox(SandboxConfig(tenants=[TenantSpec.make(1001, customers=500, invoices=2000)]))
    app = create_app(sandbox)  # ASGI: httpx.ASGITransport(app=app) or uvicorn

See ``sandbox/README.md`` for the endpoints, knobs and admin API.
"""

from sandbox.app import create_app
from sandbox.config import SandboxConfig, TenantSpec, demo_config
from sandbox.state import Sandbox

__all__ = ["Sandbox", "SandboxConfig", "TenantSpec", "create_app", "demo_config"]
