"""The local demo: procedurally generated, freely licensed media (and later a demo site)."""
