"""Block devices per disk template (node side)."""
