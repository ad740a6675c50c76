"""The indexed matcher agrees with the reference rules, and follows the change log."""

from __future__ import annotations

import numpy as np

from reclaim.banks import service as banks
from reclaim.banks.matcher import BankMatcher
from reclaim.banks.replica import MatcherCache
from reclaim.cases import service as cases
from reclaim.matching.clips import ClipRule
from reclaim.signals import REFERENCE_RULE, PdqSignal, PdqSignalType, VpdqFrame, VpdqSignal
from reclaim.signals.pdq_grid import Grid

RNG = np.random.default_rng(11)


def random_hex() -> str:
    return RNG.bytes(32).hex()


def flipped(value: str, bits: int) -> str:
    number = int(value, 16)
    for position in RNG.choice(256, size=bits, replace=False):
        number ^= 1 << int(position)
    return f"{number:064x}"


def test_pdq_matches_equal_brute_force(database) -> None:
    bases = [random_hex() for _ in range(40)]
    stored = bases + [flipped(b, int(RNG.integers(0, 45))) for b in bases for _ in range(5)]
    queries = [flipped(b, int(RNG.integers(0, 40))) for b in bases] + [
        random_hex() for _ in range(10)
    ]
    with database.session() as session:
        org = cases.get_org(session)
        strict = banks.create_bank(session, org=org, name="strict", threshold=20)
        loose = banks.create_bank(session, org=org, name="loose")
        for i, value in enumerate(stored):
            banks.add_items(
                session,
                bank=strict if i % 2 else loose,
                actor="t",
                items=[banks.NewItem([PdqSignal(value, 100)], str(i), "t")],
            )
        matcher = BankMatcher([strict, loose])
        matcher.add(banks.signal_rows(session, banks=[strict, loose], shared_only=False))
        for query in queries:
            got = {(m.item, m.distance) for m in matcher.match([PdqSignal(query, 100)])}
            expected = set()
            for i, value in enumerate(stored):
                threshold = 20 if i % 2 else 31
                match = PdqSignalType.compare(query, value, threshold)
                if match is not None:
                    expected.add((str(i), match.distance))
            assert got == expected


def _video(values: list[str]) -> VpdqSignal:
    return VpdqSignal(tuple(VpdqFrame(float(i), 100, v) for i, v in enumerate(values)))


def test_vpdq_matches_equal_the_reference_or_the_clip_rule(database) -> None:
    scenes = [[random_hex() for _ in range(10)] for _ in range(6)]
    stored = [_video(s) for s in scenes]
    stored.append(
        _video([flipped(v, 10) for v in scenes[0][:7]] + [random_hex() for _ in range(3)])
    )
    queries = [_video([flipped(v, 8) for v in s]) for s in scenes]
    queries.append(_video(scenes[1][:5]))  # a 4-second cut: too short for the clip rule
    queries.append(_video(scenes[2][2:9]))  # a 6-second cut: the clip rule finds it
    with database.session() as session:
        bank = banks.create_bank(session, org=cases.get_org(session), name="videos")
        for i, video in enumerate(stored):
            banks.add_items(
                session, bank=bank, actor="t", items=[banks.NewItem([video], str(i), "t")]
            )
        matcher = BankMatcher([bank])
        matcher.add(banks.signal_rows(session, banks=[bank], shared_only=False))
        for query in queries:
            got = {m.item: m.extra["rule"] for m in matcher.match([query])}
            expected = {
                str(i): "vpdq-reference" if REFERENCE_RULE.compare(query, v) else "clip"
                for i, v in enumerate(stored)
                if REFERENCE_RULE.compare(query, v) or ClipRule().compare(query, v)
            }
            assert got == expected
        (cut,) = matcher.match([queries[-1]])
        assert (cut.extra["time_range"], cut.extra["target_time_range"]) == ([0, 6], [2, 8])
        assert cut.extra["rule"] == "clip"
        assert cut.extra["target_coverage"] == round(100 * 6 / 9, 1)


def test_cache_follows_adds_verifications_and_withdrawals(database) -> None:
    cache = MatcherCache()
    value = random_hex()
    query = [PdqSignal(value, 100)]
    with database.session() as session:
        org = cases.get_org(session)
        bank = banks.create_bank(session, org=org, name="b")
        assert cache.match(session, org=org, shared_only=True, signals=query) == []
        (item,) = banks.add_items(
            session, bank=bank, actor="t", items=[banks.NewItem(query, "x", "portal")]
        )
    with database.session() as session:
        assert len(cache.match(session, org=org, shared_only=False, signals=query)) == 1
        assert cache.match(session, org=org, shared_only=True, signals=query) == []  # private
        banks.verify_item(session, bank=bank, public_id=item.public_id, actor="reviewer")
    with database.session() as session:
        assert len(cache.match(session, org=org, shared_only=True, signals=query)) == 1
        banks.withdraw_item(session, bank=bank, public_id=item.public_id, actor="survivor")
    with database.session() as session:
        assert cache.match(session, org=org, shared_only=True, signals=query) == []
        assert cache.match(session, org=org, shared_only=False, signals=query) == []
        other = banks.create_bank(session, org=org, name="other")  # a new bank is picked up
        banks.add_items(
            session, bank=other, actor="t", verified=True, items=[banks.NewItem(query, "y", "file")]
        )
    with database.session() as session:
        assert [m.bank for m in cache.match(session, org=org, shared_only=True, signals=query)] == [
            "other"
        ]


def test_mirrored_and_rotated_copies_match_through_dihedral_variants(database) -> None:
    from PIL import Image

    from reclaim.demo.media import render_scene
    from reclaim.signals import pdq_from_rgb

    picture = Image.fromarray(render_scene(400, 300, seed=21))
    banked = pdq_from_rgb(np.asarray(picture), dihedral=True)
    with database.session() as session:
        bank = banks.create_bank(session, org=cases.get_org(session), name="b")
        banks.add_items(
            session,
            bank=bank,
            actor="t",
            items=[banks.NewItem([PdqSignal(banked.value, banked.quality)], "x", "t")],
        )
        matcher = BankMatcher([bank])
        matcher.add(banks.signal_rows(session, banks=[bank], shared_only=False))
    for transpose, variant in [
        (Image.Transpose.FLIP_LEFT_RIGHT, "flipy"),  # PDQ names mirrors by the axis of symmetry
        (Image.Transpose.ROTATE_90, "rot270"),
        (Image.Transpose.ROTATE_180, "rot180"),
    ]:
        copy = pdq_from_rgb(np.asarray(picture.transpose(transpose)), dihedral=True)
        assert PdqSignalType.distance(copy.value, banked.value) > 31  # plain PDQ misses it
        (match,) = matcher.match([copy])
        assert match.extra["variant"] == variant
        assert match.distance <= 8  # the DCT-domain variants are as close as the reference's
    rotated = np.asarray(picture.transpose(Image.Transpose.ROTATE_180))
    only_hash = PdqSignal(pdq_from_rgb(rotated).value, 100)
    assert matcher.match([only_hash]) == []  # without variants, only the hash itself is looked up


def test_letterboxed_copies_match_through_the_content_region(database, tmp_path) -> None:
    from PIL import Image

    from reclaim.demo.media import render_scene
    from reclaim.signals import HashOptions, HashRequest, hash_file, pdq_from_rgb

    picture = render_scene(400, 300, seed=8)
    framed = np.zeros((520, 400, 3), np.uint8)
    framed[110:410] = picture
    path = tmp_path / "framed.png"
    Image.fromarray(framed).save(path)
    banked = pdq_from_rgb(picture)
    with database.session() as session:
        bank = banks.create_bank(session, org=cases.get_org(session), name="b")
        banks.add_items(session, bank=bank, actor="t", items=[banks.NewItem([banked], "x", "t")])
        matcher = BankMatcher([bank])
        matcher.add(banks.signal_rows(session, banks=[bank], shared_only=False))

    def query(regions: bool) -> list:
        result = hash_file(HashRequest(str(path), HashOptions(query_regions=regions)))
        return matcher.match([s for s in result.signals if isinstance(s, PdqSignal)])

    assert query(regions=False) == []
    (match,) = query(regions=True)
    assert (match.extra["region"], match.extra["variant"]) == ("content", "original")
    assert match.distance <= 8


def _grid(values: list[str], quality: int = 100) -> Grid:
    return Grid(tuple((v, quality) for v in values), (640, 480))


def _banked_with_grid(database, signal: PdqSignal) -> BankMatcher:
    with database.session() as session:
        bank = banks.create_bank(session, org=cases.get_org(session), name="b")
        banks.add_items(session, bank=bank, actor="t", items=[banks.NewItem([signal], "x", "t")])
        matcher = BankMatcher([bank])
        matcher.add(banks.signal_rows(session, banks=[bank], shared_only=False))
    return matcher


def test_grid_evidence_vetoes_a_whole_picture_match_whose_parts_disagree(database) -> None:
    whole = random_hex()
    cells = [random_hex() for _ in range(9)]
    matcher = _banked_with_grid(database, PdqSignal(whole, 100, grid=_grid(cells)))
    near = flipped(whole, 12)

    (plain,) = matcher.match([PdqSignal(near, 100)])  # no grid sent: plain PDQ's rule
    assert "regions_matched" not in plain.extra
    agreeing = _grid([flipped(c, 6) for c in cells])
    (verified,) = matcher.match([PdqSignal(near, 100, grid=agreeing)])
    assert (verified.extra["regions_matched"], verified.extra["regions_compared"]) == (9, 9)
    unrelated = _grid([random_hex() for _ in range(9)])  # same layout overall, other parts
    assert matcher.match([PdqSignal(near, 100, grid=unrelated)]) == []
    two_cells = _grid([random_hex() for _ in range(7)] + cells[7:], quality=100)
    few = Grid(tuple((v, 100 if i >= 7 else 10) for i, (v, _) in enumerate(two_cells.cells)))
    (kept,) = matcher.match([PdqSignal(near, 100, grid=few)])  # too few cells to veto
    assert kept.extra["regions_compared"] == 2


def test_overlaid_copies_match_through_their_grid_cells(database) -> None:
    from PIL import Image, ImageDraw

    from reclaim.demo.media import render_scene
    from reclaim.matching import query_signal
    from reclaim.signals import pdq_from_rgb

    picture = render_scene(480, 360, seed=4)
    matcher = _banked_with_grid(database, pdq_from_rgb(picture, grid=True))
    image = Image.fromarray(picture)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 480, 43), fill=(250, 30, 30))  # a caption bar over the top
    draw.ellipse((370, 250, 470, 350), fill=(20, 20, 240))  # and a logo in a corner
    copy = query_signal(np.asarray(image))
    assert PdqSignalType.distance(copy.value, pdq_from_rgb(picture).value) > 31
    (match,) = matcher.match([copy])
    assert match.extra["region"] == "grid"
    assert match.extra["regions_matched"] >= 2
    elsewhere = query_signal(render_scene(480, 360, seed=5))
    assert matcher.match([elsewhere]) == []


def test_cell_lookups_count_cells_in_place(database) -> None:
    cells = [random_hex() for _ in range(9)]
    matcher = _banked_with_grid(database, PdqSignal(random_hex(), 100, grid=_grid(cells)))
    query_cells = [flipped(c, 40) for c in cells]  # related, but no cell within 31 bits
    assert matcher.match([PdqSignal(random_hex(), 100, grid=_grid(query_cells))]) == []
    query_cells[0] = cells[0]  # one cell alone never matches
    assert matcher.match([PdqSignal(random_hex(), 100, grid=_grid(query_cells))]) == []
    query_cells[1], query_cells[2] = cells[2], cells[1]  # two more, in the wrong places
    assert matcher.match([PdqSignal(random_hex(), 100, grid=_grid(query_cells))]) == []
    query_cells[4] = cells[4]
    (match,) = matcher.match([PdqSignal(random_hex(), 100, grid=_grid(query_cells))])
    assert (match.extra["regions_matched"], match.extra["region"]) == (2, "grid")
    unrelated = [random_hex() for _ in range(9)]
    unrelated[0], unrelated[4] = cells[0], cells[4]  # two in place, the rest another picture
    assert matcher.match([PdqSignal(random_hex(), 100, grid=_grid(unrelated))]) == []
    unrelated[8] = cells[8]  # three in place overrule the rest
    (match,) = matcher.match([PdqSignal(random_hex(), 100, grid=_grid(unrelated))])
    assert match.extra["regions_matched"] == 3


def test_a_far_match_through_a_turned_variant_needs_a_grid_cell_to_confirm_it() -> None:
    """Seven extra lookups are seven more chances of a chance match: through a variant,
    a distance over 24 with no agreeing cell is dropped; the hash as given keeps 31."""
    from reclaim.banks.service import SignalRow
    from reclaim.evaluation.measure import matcher_over
    from reclaim.signals.pdq import DIHEDRAL_NAMES

    banked = random_hex()
    matcher = matcher_over([SignalRow(1, 1, "i1", "banked", 1, "pdq", banked, 100, None)])

    def query(original: str, flipx: str) -> PdqSignal:
        variants = [random_hex() for _ in DIHEDRAL_NAMES]
        variants[0], variants[DIHEDRAL_NAMES.index("flipx")] = original, flipx
        return PdqSignal(original, 100, tuple(variants))

    assert matcher.match([query(random_hex(), flipped(banked, 28))]) == []
    (near,) = matcher.match([query(random_hex(), flipped(banked, 20))])
    assert (near.distance, near.extra["variant"]) == (20, "flipx")
    (given,) = matcher.match([query(flipped(banked, 28), random_hex())])
    assert (given.distance, given.extra["variant"]) == (28, "original")
