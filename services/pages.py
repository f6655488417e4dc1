"""One page of a list: the convention every paginated service (history, audit log) follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from services.errors import Invalid

T = TypeVar("T")
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int  # matching items in all pages
    page: int  # 1-based
    page_size: int


def check_page(page: int, page_size: int) -> int:
    """Validate the page request; returns the offset of its first item."""
    if page < 1:
        raise Invalid("page must be 1 or more", "page")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise Invalid(f"page size must be 1 to {MAX_PAGE_SIZE}", "page_size")
    return (page - 1) * page_size
