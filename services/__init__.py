"""The one service layer: every business rule the CLI and the HTTP API share.

Front ends parse input, build a ``Principal``, call these functions and render what they
return; validation, access checks (``services.access``), audit and conflict detection live
here or below, never in a front end.
"""
