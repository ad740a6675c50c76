"""The platform API under ``/v1``: thin routers over the banks package."""
