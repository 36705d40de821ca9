"""Shared material for the review tests: source names that never occur in app text."""

from cetd_lib.review import ReviewConfig, ReviewSession, ReviewStore, material_from_mappings

SECRET_A, SECRET_B = "zqsourcealpha", "zqsourcebeta"


def make_material(n_apps: int = 8):
    apps = [f"app{n}" for n in range(n_apps)]
    requirements = {
        SECRET_A: {
            a: [f"{a} requirement one from A.", f"{a} requirement two from A."] for a in apps
        },
        SECRET_B: {a: [f"{a} single requirement from B."] for a in apps},
    }
    code = {a: f"def {a}():\n    return 'code of {a} <b>not bold</b>'\n" for a in apps}
    return material_from_mappings(requirements, code, origin="test")


def make_session(path, *, rater="r1", n_items=5, repeat_rate=0.4, seed=3, n_apps=8):
    config = ReviewConfig(
        sources=[SECRET_A, SECRET_B],
        n_items=n_items,
        repeat_rate=repeat_rate,
        seed=seed,
        rater=rater,
    )
    store = ReviewStore(path)
    return ReviewSession.start(store, make_material(n_apps), config)


def full_scores(left: int = 4, right: int = 3) -> dict:
    from cetd_lib.review import CRITERIA

    return {"left": dict.fromkeys(CRITERIA, left), "right": dict.fromkeys(CRITERIA, right)}
