import pytest

from editor import Editor, replay


def test_insert_and_delete():
    ed = Editor("hello")
    ed.insert(5, " world")
    assert ed.text == "hello world"
    assert ed.delete(0, 6) == "hello "
    assert ed.text == "world"


def test_undo_redo_roundtrip():
    ed = Editor()
    ed.insert(0, "abc")
    ed.insert(1, "X")
    assert ed.text == "aXbc"
    assert ed.undo() is True
    assert ed.text == "abc"
    assert ed.undo() is True
    assert ed.text == ""
    assert ed.undo() is False
    assert ed.redo() is True
    assert ed.redo() is True
    assert ed.text == "aXbc"
    assert ed.redo() is False


def test_undo_delete_restores_text():
    ed = Editor("abcdef")
    ed.delete(2, 3)
    assert ed.text == "abf"
    ed.undo()
    assert ed.text == "abcdef"


def test_new_edit_clears_redo():
    ed = Editor("a")
    ed.insert(1, "b")
    ed.undo()
    assert ed.can_redo
    ed.insert(0, "z")
    assert not ed.can_redo
    assert ed.text == "za"


def test_can_undo_flags():
    ed = Editor("start")
    assert not ed.can_undo and not ed.can_redo
    ed.append("!")
    assert ed.text == "start!"
    assert ed.can_undo


def test_position_errors():
    ed = Editor("abc")
    with pytest.raises(IndexError):
        ed.insert(4, "x")
    with pytest.raises(IndexError):
        ed.insert(-1, "x")
    with pytest.raises(IndexError):
        ed.delete(2, 5)
    with pytest.raises(ValueError):
        ed.delete(0, -1)
    assert ed.text == "abc"
    assert not ed.can_undo


def test_empty_edits_are_not_recorded():
    ed = Editor("abc")
    ed.insert(1, "")
    assert ed.delete(1, 0) == ""
    assert not ed.can_undo


def test_replace_is_single_undo_step():
    ed = Editor("the cat sat")
    ed.replace(4, 3, "dog")
    assert ed.text == "the dog sat"
    assert ed.history() == ["replace"]
    ed.undo()
    assert ed.text == "the cat sat"
    ed.redo()
    assert ed.text == "the dog sat"


def test_group_combines_edits():
    ed = Editor("x")
    with ed.group("bulk"):
        ed.insert(0, "1")
        ed.insert(0, "2")
        with ed.group():
            ed.append("3")
    assert ed.text == "21x3"
    assert ed.history() == ["bulk"]
    ed.undo()
    assert ed.text == "x"


def test_empty_group_records_nothing():
    ed = Editor("x")
    with ed.group():
        pass
    assert ed.history() == []


def test_history_labels_and_limit():
    ed = Editor("", max_history=2)
    ed.insert(0, "a")
    ed.insert(1, "b")
    ed.delete(0, 1)
    assert ed.history() == ["insert", "delete"]
    assert ed.undo() and ed.undo()
    assert ed.text == "a"
    assert ed.undo() is False
    with pytest.raises(ValueError):
        Editor(max_history=0)


def test_replay_script():
    script = [
        ("insert", 0, "hello"),
        ("insert", 5, " there"),
        ("undo",),
        ("replace", 0, 1, "J"),
        ("delete", 4, 1),
        ("undo",),
        ("redo",),
    ]
    assert replay(script) == "Jell"
    assert replay([("insert", 0, "!")], initial="hi") == "!hi"


def test_replay_unknown_operation():
    with pytest.raises(ValueError):
        replay([("explode",)])
