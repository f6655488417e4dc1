"""Raw ServiceTitan export records to table rows: pure functions, no I/O.

- ``pipeline``: the per-page entry points (``map_invoices``, ``map_customers``,
  ``map_contacts``) that the sync calls for each page.
- ``invoice``, ``member``, ``contact``: the row types (``COLUMNS`` in table order,
  ``as_tuple()`` for COPY) and the maps from one record to one row.
- ``names``: first/last name from ServiceTitan's single customer name.
- ``validation``: what a row must satisfy to be stored, and which columns' problems reject the
  record (the others are stored as NULL with a field warning).
- ``no_date``: .NET's "no date" (``0001-01-01T00:00:00``), which is no date.
- ``raw``: the fast path's checks on parsed JSON; ``text``: small normalisations.

``python -m bench.mapping`` measures the mapping throughput.
"""
