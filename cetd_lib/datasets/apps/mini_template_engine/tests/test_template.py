import pytest

from template import Template, TemplateError, TemplateSyntaxError, UndefinedError, render_string


class User:
    def __init__(self, name, tags):
        self.name = name
        self.tags = tags


def test_plain_text_and_variables():
    assert render_string("Hello, {{ name }}!", name="Ada") == "Hello, Ada!"
    assert render_string("no tags here") == "no tags here"


def test_context_dict_and_kwargs_override():
    tpl = Template("{{a}}-{{ b }}")
    assert tpl.render({"a": 1, "b": 2}) == "1-2"
    assert tpl.render({"a": 1, "b": 2}, b="x") == "1-x"


def test_dotted_lookup_dict_attr_and_index():
    ctx = {"user": User("bo", ["x", "y"]), "cfg": {"db": {"host": "h1"}}}
    assert render_string("{{ user.name }} {{ user.tags.1 }} {{ cfg.db.host }}", ctx) == "bo y h1"


def test_missing_values_render_empty_and_none_is_empty():
    assert render_string("[{{ nope }}][{{ user.missing }}][{{ n }}]", user={}, n=None) == "[][][]"


def test_strict_mode_raises_undefined():
    tpl = Template("{{ nope }}", strict=True)
    with pytest.raises(UndefinedError):
        tpl.render()
    assert Template("{{ nope|default:'x' }}", strict=True).render() == "x"
    assert issubclass(UndefinedError, TemplateError)


def test_filters_chain_and_arguments():
    out = render_string(
        "{{ name|strip|upper }}|{{ name|title }}|{{ items|length }}|{{ items|join:'/' }}|{{ long|truncate:5 }}",
        name="  ada lovelace ", items=["a", "b", "c"], long="abcdefgh",
    )
    assert out == "ADA LOVELACE|  Ada Lovelace |3|a/b/c|abcde..."


def test_escape_and_default_filters():
    assert render_string("{{ s|escape }}", s="<a href=\"x\">&'") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
    assert render_string("{{ e|default:'n/a' }}{{ z|default:0 }}", e="") == "n/a0"


def test_custom_filter():
    tpl = Template("{{ n|double }}", filters={"double": lambda v: v * 2})
    assert tpl.render(n=21) == "42"


def test_if_elif_else():
    tpl = Template("{% if n > 10 %}big{% elif n == 10 %}ten{% else %}small{% endif %}")
    assert tpl.render(n=11) == "big"
    assert tpl.render(n=10) == "ten"
    assert tpl.render(n=3) == "small"


def test_if_truthiness_not_and_string_compare():
    tpl = Template("{% if not items %}empty{% endif %}{% if role != 'admin' %}guest{% endif %}")
    assert tpl.render(items=[], role="user") == "emptyguest"
    assert tpl.render(items=[1], role="admin") == ""
    assert render_string("{% if ghost %}yes{% else %}no{% endif %}") == "no"


def test_for_loop_with_loop_variables():
    tpl = Template("{% for x in xs %}{{ loop.index }}:{{ x }}{% if not loop.last %}, {% endif %}{% endfor %}")
    assert tpl.render(xs=["a", "b", "c"]) == "1:a, 2:b, 3:c"


def test_for_else_and_nested_loops():
    tpl = Template("{% for row in rows %}[{% for c in row %}{{ c }}{% endfor %}]{% else %}none{% endfor %}")
    assert tpl.render(rows=[[1, 2], [3]]) == "[12][3]"
    assert tpl.render(rows=[]) == "none"
    assert tpl.render() == "none"


def test_loop_variable_does_not_leak():
    assert render_string("{% for x in xs %}{{ x }}{% endfor %}{{ x }}", xs=[1, 2]) == "12"


def test_comments_are_removed():
    assert render_string("a{# hidden\n comment #}b") == "ab"


def test_syntax_errors():
    bad_sources = [
        "{% if x %}open",
        "{% endif %}",
        "{% for x of xs %}{% endfor %}",
        "{% while x %}{% endwhile %}",
        "{{ name|nosuchfilter }}",
        "{% for x in xs %}{% elif y %}{% endfor %}",
        "{% if a %}{% else %}{% else %}{% endif %}",
        "{{ 'unclosed }}",
    ]
    for source in bad_sources:
        with pytest.raises(TemplateSyntaxError):
            Template(source)


def test_syntax_error_line_number():
    with pytest.raises(TemplateSyntaxError) as info:
        Template("line1\nline2 {% if x %}\nline3")
    assert info.value.lineno == 2
