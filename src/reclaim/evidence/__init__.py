"""Evidence: capture, seal, the custody log, export and offline verification."""
