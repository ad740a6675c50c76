"""The staff app: case management, trauma-informed review, approvals, statistics."""
