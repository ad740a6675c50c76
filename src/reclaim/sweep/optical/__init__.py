"""Optical sweep: hidden camera lenses in a phone video taken with the flashlight on.

A lens retro-reflects the flash straight back: a small, very bright, white glint that
stays put in the room while the phone moves. :func:`analyse` finds such glints, follows
them across frames with the view's movement taken out, scores each track with reasons in
plain words, and attaches a picture of the frame with the glint circled.
"""

from reclaim.sweep.optical.analyse import analyse, analyse_in_process
from reclaim.sweep.optical.options import GlintOptions

__all__ = ["GlintOptions", "analyse", "analyse_in_process"]
