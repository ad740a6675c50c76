"""Banks of hashes with provenance, verification, withdrawal and one global change log."""
