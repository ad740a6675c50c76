"""Exchange formats: round trips, aliases, and all-or-nothing imports."""

from __future__ import annotations

import pytest

from reclaim.banks import service as banks
from reclaim.banks.exchange import ExchangeFormat, ImportRefused, export_lines, parse_items
from reclaim.cases import service as cases
from reclaim.signals import signal_from_json

PDQ = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
VPDQ = signal_from_json(
    {
        "type": "vpdq",
        "frames": [
            {"ts": 0.0, "quality": 100, "value": PDQ},
            {"ts": 1.0, "quality": 80, "value": "0" * 64},
        ],
    }
)


@pytest.mark.parametrize("fmt", list(ExchangeFormat))
def test_export_then_import_round_trip(database, fmt: ExchangeFormat) -> None:
    signals = [
        signal_from_json({"type": "pdq", "value": PDQ}),
        signal_from_json({"type": "md5", "value": MD5}),
    ]
    if fmt is not ExchangeFormat.STOPNCII:
        signals.append(VPDQ)
    with database.session() as session:
        bank = banks.create_bank(session, org=cases.get_org(session), name="b")
        banks.add_items(session, bank=bank, actor="t", items=[banks.NewItem(signals, "x", "t")])
        text = "\n".join(export_lines(banks.active_items(session, banks=[bank]), fmt)) + "\n"
    items = parse_items(text, fmt, source="f")
    got = [s for item in items for s in item.signals]
    assert sorted(s.type for s in got) == sorted(s.type for s in signals)
    for signal in got:
        assert signal in signals


def test_python_threatexchange_names_and_formats() -> None:
    items = parse_items(
        f"pdq {PDQ}\nvideo_md5 {MD5}\n\n# comment\n", ExchangeFormat.PYTX, source="f"
    )
    assert [i.signals[0].type for i in items] == ["pdq", "md5"]
    assert items[1].label == "f:2"
    csv_text = f"signal_type,signal_value,label\npdq,{PDQ},a photo\nvideo_sha256,{'a' * 64},\n"
    items = parse_items(csv_text, ExchangeFormat.CSV, source="f")
    assert [i.label for i in items] == ["a photo", "f:3"]
    assert items[1].signals[0].type == "sha256"
    items = parse_items(f"{PDQ.upper()}\n{MD5}\n", ExchangeFormat.STOPNCII, source="f")
    assert [i.signals[0].type for i in items] == ["pdq", "md5"]


def test_a_broken_row_refuses_the_whole_file_and_names_every_bad_row() -> None:
    text = f"pdq {PDQ}\npdq {PDQ[:-1]}\nphotodna abc\npdq {PDQ}\nmd5 zz\n"
    with pytest.raises(ImportRefused) as refused:
        parse_items(text, ExchangeFormat.PYTX, source="f")
    assert [r.line for r in refused.value.rows] == [2, 3, 5]
    assert "64 hex digits" in refused.value.rows[0].reason
    assert "unknown signal type" in refused.value.rows[1].reason
    with pytest.raises(ImportRefused, match="signal_type and signal_value"):
        parse_items("hash,kind\nx,y\n", ExchangeFormat.CSV, source="f")
    with pytest.raises(ImportRefused, match="no hashes"):
        parse_items("\n# nothing\n", ExchangeFormat.PYTX, source="f")
    with pytest.raises(ImportRefused):
        parse_items('{"signals": []}\nnot json\n', ExchangeFormat.JSONL, source="f")


def test_jsonl_keeps_the_grid_and_flat_formats_keep_the_hash(database) -> None:
    from reclaim.demo.media import render_scene
    from reclaim.signals import pdq_from_rgb

    banked = pdq_from_rgb(render_scene(320, 240, seed=9), grid=True)
    with database.session() as session:
        bank = banks.create_bank(session, org=cases.get_org(session), name="b")
        banks.add_items(session, bank=bank, actor="t", items=[banks.NewItem([banked], "x", "t")])
        items = banks.active_items(session, banks=[bank])
        for fmt in ExchangeFormat:
            text = "\n".join(export_lines(items, fmt)) + "\n"
            (signal,) = parse_items(text, fmt, source="f")[0].signals
            assert signal.to_json()["value"] == banked.value
            assert (signal.to_json().get("grid") is not None) == (fmt is ExchangeFormat.JSONL)
            if fmt is ExchangeFormat.JSONL:
                assert signal == banked
