"""Safe decoding of untrusted images and videos: type sniffing, limits, frames."""

from reclaim.media.errors import (
    Corrupt,
    EmptyFile,
    MediaError,
    NoFrames,
    NotAFile,
    Timeout,
    TooLarge,
    UnsupportedType,
    WorkerCrashed,
)
from reclaim.media.frames import Frame, Sampling
from reclaim.media.image import DecodedImage, decode_image, iter_animation_frames
from reclaim.media.limits import MediaLimits
from reclaim.media.sniff import MediaFormat, MediaKind, sniff_bytes, sniff_file
from reclaim.media.video import VideoInfo, iter_video_frames, probe_video

__all__ = [
    "Corrupt",
    "DecodedImage",
    "EmptyFile",
    "Frame",
    "MediaError",
    "MediaFormat",
    "MediaKind",
    "MediaLimits",
    "NoFrames",
    "NotAFile",
    "Sampling",
    "Timeout",
    "TooLarge",
    "UnsupportedType",
    "VideoInfo",
    "WorkerCrashed",
    "decode_image",
    "iter_animation_frames",
    "iter_video_frames",
    "probe_video",
    "sniff_bytes",
    "sniff_file",
]
