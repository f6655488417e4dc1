"""Small text normalisations shared by the record maps.

Values are kept as ServiceTitan sent them, except where whitespace can carry no meaning.
"""

from __future__ import annotations


def clean_code(value: str | None) -> str | None:
    """A state or postal code without surrounding whitespace; blank becomes ``None``.

    ``" TX "`` and ``"TX"`` are the same state, and a blank zip is no zip; anything else
    (case, inner spaces as in ``"K1A 0B1"``) is kept.
    """
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None
