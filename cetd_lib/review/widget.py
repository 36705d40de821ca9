"""The rating form in JupyterLab (ipywidgets): two anonymous sides side by side.

Rubric, titles and buttons come from the session's kind (`cetd_lib.review.kinds`).
Keyboard: Tab moves between the score buttons (Space/Enter picks), or type the whole answer in
the quick-entry box ('4534 | 3425 | L | why', Enter submits). Leaving an item with unsaved
changes saves them as a draft. Source names never reach a widget: the form only holds
`BlindItem`s and `Answer`s.
"""

from __future__ import annotations

import html
from typing import Any

from cetd_lib.review.kinds import REQUIREMENTS, ReviewKind
from cetd_lib.review.rater import Answer, ReviewSession, example_answer, parse_answer
from cetd_lib.review.store import SIDES, InvalidRatingError

_SCORE_OPTIONS = [(str(n), n) for n in range(1, 6)]


def _side_html(title: str, items: tuple[str, ...], kind: ReviewKind = REQUIREMENTS) -> str:
    empty = f"<i>{html.escape(kind.empty_side)}</i>"
    if kind.numbered:
        # leave room for two-digit item numbers (a 1.4em indent clipped "10." to "0.")
        items_html = "".join(f"<li>{html.escape(text)}</li>" for text in items) or empty
        body = f"<ol style='padding-left:2.4em;margin-top:4px'>{items_html}</ol>"
    else:
        body = (
            "".join(
                f"<p style='margin:4px 0;white-space:pre-wrap'>{html.escape(text)}</p>"
                for text in items
            )
            or f"<p>{empty}</p>"
        )
    # ipywidgets sets the HTML widget's line-height to the 28px button height: reset it
    return f"<div style='line-height:1.4'><b>{title}</b>{body}</div>"


class ReviewWidget:
    """One rater's form over a `ReviewSession`; display it as a cell's last expression."""

    def __init__(self, session: ReviewSession, *, start: int | None = None):
        import ipywidgets as w

        self.session = session
        kind = session.kind
        self.index = session.resume_index() if start is None else start
        self._loading = False
        self._dirty = False

        self.header = w.HTML()
        self.progress = w.IntProgress(min=0, max=len(session.items), description="done")
        self.code = w.HTML()
        self.code_pane = w.Accordion(
            children=[self.code], titles=(kind.context_title,), selected_index=None
        )
        # full width of its column (a 50% list inside a 50% column used a quarter of the row)
        self.lists = {side: w.HTML(layout=w.Layout(width="100%")) for side in SIDES}
        self.scores = {
            side: {
                c: w.ToggleButtons(
                    options=_SCORE_OPTIONS,
                    value=None,
                    description=c,
                    tooltips=[kind.criteria_help[c]] * 5,
                    style={"button_width": "2.2em", "description_width": "7.5em"},
                )
                for c in kind.criteria
            }
            for side in SIDES
        }
        self.preference = w.ToggleButtons(
            options=list(zip(kind.preference_labels, ("left", "tie", "right"), strict=True)),
            value=None,
            description="preference",
            layout=w.Layout(padding="0 0 0 6px"),  # as the columns: the label's "p" was clipped
        )
        self.rationale = w.Textarea(
            placeholder=kind.rationale_hint,
            layout=w.Layout(width="100%", height="4em"),
        )
        self.quick = w.Text(
            placeholder=f"keyboard: {example_answer(kind)}   (left scores | right scores | "
            "L/R/T | rationale; Enter submits)",
            continuous_update=False,
            layout=w.Layout(width="100%"),
        )
        self.prev_button = w.Button(description="◀ Previous", tooltip="previous item")
        self.skip_button = w.Button(description="Skip", tooltip="skip this item")
        self.submit_button = w.Button(
            description="Submit ▶", button_style="primary", tooltip="save and go to the next"
        )
        self.next_button = w.Button(description="Next ▶", tooltip="next item (keeps a draft)")
        self.status = w.HTML()

        for control in [*self._controls(), self.rationale]:
            control.observe(self._mark_dirty, names="value")
        self.quick.observe(self._on_quick, names="value")
        self.prev_button.on_click(lambda _: self.go(self.index - 1))
        self.next_button.on_click(lambda _: self.go(self.index + 1))
        self.skip_button.on_click(self._on_skip)
        self.submit_button.on_click(self._on_submit)

        columns = [
            w.VBox(  # the padding keeps the criterion labels' first letter from being clipped
                [self.lists[side], *self.scores[side].values()],
                layout=w.Layout(width="50%", padding="0 0 0 6px"),
            )
            for side in SIDES
        ]
        self.box = w.VBox(
            [
                w.HBox([self.header, self.progress]),
                self.code_pane,
                w.HBox(columns),
                self.preference,
                self.rationale,
                self.quick,
                w.HBox([self.prev_button, self.skip_button, self.submit_button, self.next_button]),
                self.status,
            ]
        )
        self.show(self.index)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.box._repr_mimebundle_(**kwargs)

    def _controls(self) -> list[Any]:
        return [*(b for side in SIDES for b in self.scores[side].values()), self.preference]

    # -- state ---------------------------------------------------------------------------------
    def show(self, index: int, message: str = "") -> None:
        """Fill the form with item `index` and its stored answer (if any)."""
        self.index = max(0, min(index, len(self.session.items) - 1))
        item = self.session.items[self.index]
        answer = self.session.answer(item.item_id) or Answer()
        self._loading = True
        try:
            for side, title in zip(SIDES, self.session.kind.side_titles, strict=True):
                self.lists[side].value = _side_html(title, getattr(item, side), self.session.kind)
                for c, buttons in self.scores[side].items():
                    buttons.value = answer.scores.get(side, {}).get(c)
            self.preference.value = answer.preference
            self.rationale.value = answer.rationale
            self.code.value = (
                f"<pre style='max-height:30em;overflow:auto'>{html.escape(item.code)}</pre>"
            )
        finally:
            self._loading = False
        self._dirty = False
        done, total = self.session.progress()
        self.progress.value = done
        state = {
            "todo": "",
            "draft": " · draft",
            "submitted": " · submitted",
            "skipped": " · skipped",
        }
        self.header.value = (
            f"<b>Item {self.index + 1} of {total}</b> · {self.session.kind.subject} "
            f"<code>{html.escape(item.app_id)}</code>"
            f"{state.get(answer.status if self.session.answer(item.item_id) else 'todo', '')}"
            f" · {done} of {total} done"
        )
        self.status.value = message

    def current_answer(self) -> tuple[dict[str, dict[str, int]], str | None, str]:
        scores = {
            side: {c: b.value for c, b in self.scores[side].items() if b.value is not None}
            for side in SIDES
        }
        return scores, self.preference.value, self.rationale.value

    def _mark_dirty(self, _change: Any) -> None:
        if not self._loading:
            self._dirty = True

    # -- actions -------------------------------------------------------------------------------
    def go(self, index: int) -> None:
        """Move to another item, first saving unsaved changes of this one as a draft."""
        message = self._save_draft()
        self.show(index, message)

    def _save_draft(self) -> str:
        if not self._dirty:
            return ""
        item = self.session.items[self.index]
        previous = self.session.answer(item.item_id)
        if previous is not None and previous.status == "submitted":
            return _note(
                f"item {self.index + 1} was submitted: your later edits were not kept "
                "(press Submit to change a submitted answer)"
            )
        scores, preference, rationale = self.current_answer()
        self.session.save_draft(item.item_id, scores, preference, rationale)
        return _note(f"item {self.index + 1} saved as a draft")

    def _next_open(self) -> int | None:
        """The next item (after this one, wrapping) that is neither submitted nor skipped."""
        statuses = self.session.statuses()
        n = len(self.session.items)
        for step in range(1, n + 1):
            candidate = (self.index + step) % n
            if statuses[self.session.items[candidate].item_id] not in ("submitted", "skipped"):
                return candidate
        return None

    def _after_save(self, what: str) -> None:
        following = self._next_open()
        if following is None:
            self.show(self.index, _note(f"{what}. All items are done, thank you!", "green"))
        else:
            self.show(following, _note(f"{what}.", "green"))

    def _on_submit(self, _button: Any = None) -> None:
        item = self.session.items[self.index]
        scores, preference, rationale = self.current_answer()
        try:
            self.session.submit(item.item_id, scores, preference, rationale)
        except InvalidRatingError as exc:
            self.status.value = _note(str(exc), "firebrick")
            return
        self._after_save(f"Item {self.index + 1} submitted")

    def _on_skip(self, _button: Any = None) -> None:
        self.session.skip(self.session.items[self.index].item_id, self.rationale.value)
        self._after_save(f"Item {self.index + 1} skipped")

    def _on_quick(self, change: Any) -> None:
        text = change["new"].strip()
        if not text:
            return
        try:
            scores, preference, rationale = parse_answer(text, self.session.kind)
        except InvalidRatingError as exc:
            self.status.value = _note(str(exc), "firebrick")
            return
        self._loading = True
        try:
            for side in SIDES:
                for c, value in scores[side].items():
                    self.scores[side][c].value = value
            self.preference.value = preference
            if rationale:
                self.rationale.value = rationale
        finally:
            self._loading = False
        self.quick.value = ""
        self._on_submit()


def _note(text: str, colour: str = "dimgray") -> str:
    return f"<span style='color:{colour}'>{html.escape(text)}</span>"
