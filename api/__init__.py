"""The HTTP API (FastAPI on uvicorn): a thin front end over ``services/``.

Routes parse the request, call one service function with the caller's ``Principal`` and render
its result as the seed's camelCase DTOs; every rule (access, validation, audit) lives in the
service layer, shared with the CLI. See docs/api.md.
"""
