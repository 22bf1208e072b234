"""Queries: field definitions per resource, the qlang filter, result building."""
