"""Settings: one declared source, every setting documented, environment respected."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from reclaim.config import Settings, env_var
from reclaim.media import MediaLimits

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    missing = [env_var(name) for name in Settings.model_fields if f"`{env_var(name)}`" not in text]
    assert missing == [], f"add these to docs/configuration.md: {missing}"


def test_every_setting_has_a_description() -> None:
    assert all(field.description for field in Settings.model_fields.values())


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECLAIM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RECLAIM_MEDIA_MAX_FRAMES", "7")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert MediaLimits.from_settings(settings).max_frames == 7


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECLAIM_MEDIA_WORKER_MEMORY_MB", "12")
    with pytest.raises(ValidationError, match="media_worker_memory_mb"):
        Settings()


def test_limit_defaults_agree_with_settings() -> None:
    assert MediaLimits() == MediaLimits.from_settings(Settings())


def test_the_desks_time_zone_must_exist() -> None:
    import pytest
    from pydantic import ValidationError

    from reclaim.config import Settings

    assert Settings(staff_timezone="Europe/Berlin").staff_timezone == "Europe/Berlin"
    with pytest.raises(ValidationError, match="not a time zone"):
        Settings(staff_timezone="Mars/Olympus")
