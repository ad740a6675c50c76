"""Hidden-camera sweep: a room's network (lan), a Wi-Fi capture (wifi), a phone video
(optical). Stands alone beside the pipeline: it needs only config, media and store."""
