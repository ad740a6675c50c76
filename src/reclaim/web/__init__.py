"""The web side: the platform API (``/v1``); staff UI and survivor portal come later."""
