"""Encoding test media leaves the encoding thread's scheduling as it was."""

from __future__ import annotations

import os
from pathlib import Path

import av

from reclaim.demo.media import make_video


def test_an_av1_encode_does_not_leave_the_thread_real_time(tmp_path: Path) -> None:
    # SVT-AV1 run as root puts the thread driving it on SCHED_FIFO 99 and leaves it so
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    path = make_video(
        tmp_path / "av1.mp4", width=160, height=96, seconds=0.4, seed=3, codec="libsvtav1"
    )
    assert (os.sched_getscheduler(0), os.sched_getparam(0)) == (policy, param)
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name in {"libdav1d", "av1", "libaom-av1"}
