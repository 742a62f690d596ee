"""Reporting: per-run metrics aggregated into the paper's tables (``aggregate``) and written out (``tables``)."""
