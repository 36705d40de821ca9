from dataclasses import replace

import pytest

from cetd_lib.apps.app import App, DataConfig
from cetd_lib.apps.splits import SPLITS, SplitManifest, make_splits, split_of


def make_app(app_id: str, origin: str = "bundled") -> App:
    return App(app_id, {"m.py": f"X = {app_id!r}\n"}, {"test_m.py": ""}, ("r",) * 5, origin=origin)


APPS = [make_app(f"app_{i:04d}") for i in range(1000)]


def test_every_app_is_in_exactly_one_split():
    manifest = make_splits(APPS)
    groups = [set(manifest.ids(name)) for name in SPLITS]
    assert sum(len(g) for g in groups) == len(APPS)
    assert set.union(*groups) == {a.app_id for a in APPS}
    for i, first in enumerate(groups):
        for second in groups[i + 1 :]:
            assert not first & second


def test_adding_apps_never_moves_an_existing_one():
    before = make_splits(APPS[:300])
    after = make_splits(APPS + [make_app("new_app_a"), make_app("new_app_b")])
    assert all(after.assignments[a] == s for a, s in before.assignments.items())


def test_split_is_deterministic_and_the_seed_reshuffles():
    assert make_splits(APPS).assignments == make_splits(APPS).assignments
    assert make_splits(APPS, seed=1).assignments != make_splits(APPS).assignments


def test_sizes_follow_the_fractions_on_a_large_corpus():
    manifest = make_splits(APPS, fractions=(0.5, 0.25, 0.25))
    sizes = {name: len(manifest.ids(name)) for name in SPLITS}
    assert 450 <= sizes["train"] <= 550 and 200 <= sizes["val"] <= 300, sizes
    assert split_of("anything", seed=0, fractions=(1.0, 0.0, 0.0)) == "train"
    assert split_of("anything", seed=0, fractions=(0.0, 0.0, 1.0)) == "test"


def test_defaults_come_from_data_config():
    config = DataConfig(train_fraction=0.6, val_fraction=0.2, test_fraction=0.2, split_seed=9)
    manifest = make_splits(APPS[:50], config=config)
    assert manifest.seed == 9 and manifest.fractions == (0.6, 0.2, 0.2)
    assert (
        manifest.assignments
        == make_splits(APPS[:50], seed=9, fractions=(0.6, 0.2, 0.2)).assignments
    )


def test_manifest_round_trips_through_json_with_content_hashes():
    manifest = make_splits(APPS[:40])
    again = SplitManifest.from_json(manifest.to_json())
    assert again == manifest
    assert again.content_hashes["app_0000"] == APPS[0].content_hash()


def test_manifest_refuses_an_app_in_two_splits():
    data = make_splits(APPS[:10]).to_dict()
    data["splits"]["test"].append(data["splits"]["train"][0])
    with pytest.raises(ValueError, match="is in both train and test"):
        SplitManifest.from_dict(data)


def test_holdout_apps_cannot_be_split():
    with pytest.raises(ValueError, match="holdout apps must never be split"):
        make_splits([*APPS[:3], make_app("secret", origin="holdout")])


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError, match="summing to 1"):
        split_of("a", seed=0, fractions=(0.7, 0.2, 0.2))


def test_select_and_changed():
    manifest = make_splits(APPS[:100])
    train = manifest.select(APPS[:100], "train")
    assert [a.app_id for a in train] == manifest.ids("train")
    with pytest.raises(KeyError, match="not in the split manifest"):
        manifest.select([make_app("unknown")], "train")
    edited = replace(APPS[5], requirements=("changed",) * 5)
    assert manifest.changed([edited, APPS[6]]) == ["app_0005"]
