"""Optical sweep: hidden camera lenses in a phone video taken with the flashlight on."""
