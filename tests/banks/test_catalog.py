"""The matcher's catalog against a plain-dict model, through folds, removals and re-adds."""

from __future__ import annotations

import random

import numpy as np
import pytest

from reclaim.banks import catalog as catalog_module
from reclaim.banks.catalog import Batch, Catalog, ItemInfo, Kind, Texts


class Model:
    """What the catalog must answer, kept the obvious way."""

    def __init__(self) -> None:
        self.items: dict[int, ItemInfo] = {}
        self.signals: dict[int, tuple[int, Kind]] = {}

    def put(self, batch: Batch) -> None:
        for item_id, public_id, label, bank_id in zip(
            batch.item_ids, batch.public_ids, batch.labels, batch.bank_ids, strict=True
        ):
            self.items[item_id] = ItemInfo(public_id, label, bank_id)
        for signal_id, owner, kind in zip(batch.signal_ids, batch.owners, batch.kinds, strict=True):
            self.signals[signal_id] = (owner, Kind(kind))

    def remove(self, item_ids: list[int]) -> set[tuple[int, Kind]]:
        gone = set()
        for item_id in item_ids:
            if self.items.pop(item_id, None) is None:
                continue
            for signal_id, (owner, kind) in list(self.signals.items()):
                if owner == item_id:
                    gone.add((signal_id, kind))
                    del self.signals[signal_id]
        return gone


def batch_of(rng: random.Random, item_ids: list[int], next_signal: list[int]) -> Batch:
    batch = Batch()
    for item_id in item_ids:
        for _ in range(rng.randint(1, 3)):  # one row per signal, the item repeated
            batch.item_ids.append(item_id)
            batch.public_ids.append(f"{item_id * 7919:x}p")
            batch.labels.append(f"촬영물 {item_id} " + "x" * rng.randint(0, 40))
            batch.bank_ids.append(item_id % 5)
            batch.signal_ids.append(next_signal[0])
            batch.owners.append(item_id)
            batch.kinds.append(rng.choice(list(Kind)))
            next_signal[0] += rng.randint(1, 3)
    return batch


def check(catalog: Catalog, model: Model, probes: list[int]) -> None:
    assert len(catalog) == len(model.items)
    for item_id in probes:
        if item_id in model.items:
            assert catalog.item(item_id) == model.items[item_id]
            expected = {(s, k) for s, (o, k) in model.signals.items() if o == item_id}
            assert set(catalog.signals_of(item_id)) == expected
            assert catalog.find_public([model.items[item_id].public_id]) == [item_id]
        else:
            with pytest.raises(KeyError):
                catalog.item(item_id)
            assert catalog.signals_of(item_id) == []
            assert catalog.find_public([f"{item_id * 7919:x}p"]) == []
    for signal_id, (owner, _) in model.signals.items():
        assert catalog.owner(signal_id) == owner
        assert catalog.bank_of(signal_id) == model.items[owner].bank_id


@pytest.mark.parametrize("fold_min", [4, 50_000])
def test_the_catalog_answers_as_the_model_does(monkeypatch, fold_min: int) -> None:
    """Small fold limits fold after nearly every change; large ones keep it all in the
    delta but for the bulk first load; both must answer alike."""
    monkeypatch.setattr(catalog_module, "_FOLD_MIN", fold_min)
    rng = random.Random(fold_min)
    catalog, model = Catalog(), Model()
    next_signal = [1]
    first = list(range(1, 3000))
    bulk = batch_of(rng, first, next_signal)
    catalog.put(bulk)
    model.put(bulk)
    held = set(first)
    next_item = 3000
    for step in range(60):
        if step % 3 == 0:  # withdrawals
            gone = [*rng.sample(sorted(held), 25), 10**9]  # one it never held
            assert set(catalog.remove(gone)) == model.remove(gone)
            held -= set(gone)
        elif step % 3 == 1:  # re-adds of withdrawn items and new items
            back = rng.sample(sorted(set(first) - held), min(10, len(set(first) - held)))
            new = list(range(next_item, next_item + 15))
            next_item += 15
            batch = batch_of(rng, back + new, next_signal)
            catalog.put(batch)
            model.put(batch)
            held |= set(back + new)
        else:  # a change: remove and re-add as it now is
            changed = rng.sample(sorted(held), 5)
            catalog.remove(changed)
            model.remove(changed)
            batch = batch_of(rng, changed, next_signal)
            catalog.put(batch)
            model.put(batch)
        check(catalog, model, rng.sample(range(1, next_item + 5), 60))

    again = Catalog.from_arrays(catalog.arrays())
    check(again, model, list(range(1, next_item)))


def test_snapshot_arrays_that_do_not_fit_are_refused() -> None:
    catalog = Catalog()
    catalog.put(batch_of(random.Random(1), list(range(1, 50)), [1]))
    good = catalog.arrays()
    Catalog.from_arrays(good)
    broken = {
        "unsorted ids": {**good, "item_ids": good["item_ids"][::-1].copy()},
        "owner not an item": {**good, "owners": good["owners"] + 1000},
        "short labels": {**good, "label_ends": good["label_ends"][:-1]},
        "label past blob": {**good, "label_blob": good["label_blob"][:-1]},
        "order not a permutation": {**good, "by_owner": np.zeros_like(good["by_owner"])},
        "unknown kind": {**good, "kinds": np.full_like(good["kinds"], 9)},
    }
    for name, arrays in broken.items():
        with pytest.raises(ValueError, match="do not fit"):
            Catalog.from_arrays(arrays)
        assert name


def test_texts_gather_and_join_keep_every_string() -> None:
    words = ["", "a", "촬영물", "x" * 1000, "é", ""]
    texts = Texts.of(words)
    assert [texts[i] for i in range(len(words))] == words
    order = np.array([3, 0, 2, 2, 5], np.int64)
    taken = texts.take(order)
    assert [taken[i] for i in range(len(order))] == [words[i] for i in order]
    joined = Texts.join([texts, taken])
    assert [joined[i] for i in range(len(joined))] == words + [words[i] for i in order]
