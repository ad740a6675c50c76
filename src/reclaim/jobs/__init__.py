"""The task queue: the same task code in-process (Huey on SQLite) or on workers elsewhere."""
