"""The rating form driven programmatically: values set, buttons clicked, the store checked."""

import json

import ipywidgets
import pytest

from cetd_lib.review import CRITERIA, InvalidRatingError, ReviewWidget, parse_answer, text_form
from tests.review_fixtures import SECRET_A, SECRET_B, make_session


def rendered_state(widget) -> str:
    """Every synced trait of every widget in the form: what the front end receives."""
    seen, stack, states = set(), [widget.box], []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        states.append(node.get_state())
        stack += [v for v in node.get_state().values() if isinstance(v, ipywidgets.Widget)]
        stack += [c for c in getattr(node, "children", ()) if isinstance(c, ipywidgets.Widget)]
    return json.dumps(states, default=repr)


@pytest.fixture
def form(tmp_path):
    return ReviewWidget(make_session(tmp_path / "r.sqlite"))


def fill(form, left: int, right: int, preference: str, rationale: str = "") -> None:
    for criterion in CRITERIA:
        form.scores["left"][criterion].value = left
        form.scores["right"][criterion].value = right
    form.preference.value = preference
    form.rationale.value = rationale


def test_submit_writes_the_answer_with_the_hidden_mapping(form):
    session = form.session
    item = session.items[form.index]
    fill(form, 5, 2, "left", "left covers the edge cases")
    form.submit_button.click()
    (rating,) = session.store.ratings(session.session_id, "r1")
    assert rating.item_id == item.item_id and rating.status == "submitted"
    stored = next(i for i in session.store.items(session.session_id) if i.item_id == item.item_id)
    assert rating.preferred_source == stored.left_source
    assert rating.scores_by_source()[stored.left_source]["accuracy"] == 5
    assert form.index != 0 and "1 of" in form.header.value  # moved on, progress shown


def test_incomplete_submit_is_refused_and_nothing_is_stored(form):
    form.scores["left"]["accuracy"].value = 3
    form.submit_button.click()
    assert "scores missing" in form.status.value
    assert form.session.store.ratings(form.session.session_id, status="submitted") == []


def test_navigation_keeps_a_draft_and_skip_and_quick_entry_finish_items(form):
    session = form.session
    first = session.items[0].item_id
    form.scores["right"]["clarity"].value = 2
    form.next_button.click()
    assert session.answer(first).status == "draft"
    assert session.answer(first).scores["right"] == {"clarity": 2}
    form.prev_button.click()
    assert form.scores["right"]["clarity"].value == 2  # the draft is shown again
    form.skip_button.click()
    assert session.answer(first).status == "skipped"
    second = session.items[form.index].item_id
    form.quick.value = "1234 | 5432 | T | same content"  # keyboard path: Enter submits
    answer = session.answer(second)
    assert answer.status == "submitted" and answer.preference == "tie"
    assert answer.scores["left"] == dict(zip(CRITERIA, [1, 2, 3, 4], strict=True))
    assert session.progress() == (2, len(session.items))


def test_the_form_never_shows_which_source_is_which(form):
    session = form.session
    for n in range(len(session.items)):
        form.show(n)
        form.code_pane.selected_index = 0
        text = rendered_state(form)
        assert "app" in text and "requirement" in text  # the walk does see the content
        assert SECRET_A not in text and SECRET_B not in text
        assert SECRET_A not in text_form(session.items[n])
    fill(form, 4, 4, "right")
    form.submit_button.click()
    assert SECRET_A not in rendered_state(form) + form.status.value


def test_code_is_escaped_and_collapsed(form):
    assert form.code_pane.selected_index is None
    assert "&lt;b&gt;not bold&lt;/b&gt;" in form.code.value


def test_text_form_round_trip(tmp_path):
    session = make_session(tmp_path / "r.sqlite")
    item = session.items[0]
    assert "LEFT requirements" in text_form(item) and item.left[0] in text_form(item)
    session.submit_text(item.item_id, "4 5 3 4 | 3,4,2,5 | left | clear | precise")
    answer = session.answer(item.item_id)
    assert answer.preference == "left" and answer.rationale == "clear | precise"
    assert answer.scores == {
        "left": dict(zip(CRITERIA, [4, 5, 3, 4], strict=True)),
        "right": dict(zip(CRITERIA, [3, 4, 2, 5], strict=True)),
    }
    with pytest.raises(InvalidRatingError, match="four digits"):
        parse_answer("45 | 3425 | L")
    with pytest.raises(InvalidRatingError, match="L, R or T"):
        parse_answer("4534 | 3425 | maybe")
