import pytest

from select_parser import SelectItem, SelectQuery, SqlParseError, parse_select
from sqltok import KEYWORDS, SqlTokenizeError, Token, TokenType, render_tokens, tokenize


def kinds(sql):
    return [(t.type, t.value) for t in tokenize(sql)]


def test_keywords_are_uppercased_identifiers_keep_case():
    assert kinds("select Name from Users") == [
        (TokenType.KEYWORD, "SELECT"),
        (TokenType.IDENT, "Name"),
        (TokenType.KEYWORD, "FROM"),
        (TokenType.IDENT, "Users"),
    ]
    assert "BETWEEN" in KEYWORDS


def test_token_positions():
    toks = tokenize("SELECT  a,b")
    assert toks[1] == Token(TokenType.IDENT, "a", 8)
    assert toks[2].position == 9
    assert toks[2].type is TokenType.PUNCT


def test_strings_and_quoted_identifiers():
    assert kinds("'it''s' \"Order Total\"") == [
        (TokenType.STRING, "it's"),
        (TokenType.IDENT, "Order Total"),
    ]


def test_numbers_operators_and_params():
    assert kinds("x>=1.5 AND y<>.25 OR z != ? || :name") == [
        (TokenType.IDENT, "x"), (TokenType.OPERATOR, ">="), (TokenType.NUMBER, "1.5"),
        (TokenType.KEYWORD, "AND"), (TokenType.IDENT, "y"), (TokenType.OPERATOR, "<>"),
        (TokenType.NUMBER, ".25"), (TokenType.KEYWORD, "OR"), (TokenType.IDENT, "z"),
        (TokenType.OPERATOR, "!="), (TokenType.PARAM, "?"), (TokenType.OPERATOR, "||"),
        (TokenType.PARAM, ":name"),
    ]


def test_comments_are_skipped():
    sql = "SELECT a -- trailing comment\n, /* block\ncomment */ b FROM t"
    assert [t.value for t in tokenize(sql)] == ["SELECT", "a", ",", "b", "FROM", "t"]


def test_tokenize_errors():
    with pytest.raises(SqlTokenizeError) as info:
        tokenize("SELECT a FROM t WHERE b = 'open")
    assert info.value.position == 26
    with pytest.raises(SqlTokenizeError):
        tokenize("SELECT /* never closed")
    with pytest.raises(SqlTokenizeError) as info:
        tokenize("SELECT a # b")
    assert info.value.position == 9
    assert issubclass(SqlTokenizeError, ValueError)


def test_render_tokens_spacing():
    assert render_tokens(tokenize("count ( * )")) == "count(*)"
    assert render_tokens(tokenize("t . col")) == "t.col"
    assert render_tokens(tokenize("a IN (1,2 , 3)")) == "a IN (1, 2, 3)"
    assert render_tokens(tokenize("name='O''Hara'")) == "name = 'O''Hara'"


def test_parse_simple_select():
    q = parse_select("SELECT id, name FROM users;")
    assert isinstance(q, SelectQuery)
    assert q.items == [SelectItem("id"), SelectItem("name")]
    assert q.table == "users"
    assert q.where is None and q.limit is None and q.offset is None
    assert q.order_by == [] and q.distinct is False


def test_parse_aliases_and_functions():
    q = parse_select("select distinct u.id as uid, count(*) total, lower(u.email) from app.users u")
    assert q.distinct is True
    assert q.items == [
        SelectItem("u.id", "uid"),
        SelectItem("count(*)", "total"),
        SelectItem("lower(u.email)", None),
    ]
    assert q.columns == ["uid", "total", "lower(u.email)"]
    assert q.table == "app.users"
    assert q.table_alias == "u"


def test_parse_where_order_limit_offset():
    q = parse_select(
        "SELECT * FROM orders AS o WHERE o.total > 100 and (status = 'paid' or status='sent') "
        "ORDER BY o.created DESC, id LIMIT 10 OFFSET 20"
    )
    assert q.items == [SelectItem("*")]
    assert q.table_alias == "o"
    assert q.where == "o.total > 100 AND (status = 'paid' OR status = 'sent')"
    assert q.order_by == [("o.created", "DESC"), ("id", "ASC")]
    assert q.limit == 10
    assert q.offset == 20


def test_to_sql_canonical_form():
    q = parse_select("select a x, b from t where a between 1 and 5 order by b desc limit 3")
    assert q.to_sql() == "SELECT a AS x, b FROM t WHERE a BETWEEN 1 AND 5 ORDER BY b DESC LIMIT 3"
    assert parse_select(q.to_sql()) == q


def test_parse_errors():
    bad = [
        "UPDATE t SET a = 1",
        "SELECT FROM t",
        "SELECT a, FROM t",
        "SELECT a",
        "SELECT a FROM",
        "SELECT a FROM t WHERE",
        "SELECT a FROM t ORDER a",
        "SELECT a FROM t LIMIT ten",
        "SELECT a FROM t LIMIT 1.5",
        "SELECT a FROM t extra junk",
        "SELECT (a FROM t",
        "SELECT a FROM t GROUP BY a",
        "SELECT a AS FROM t",
    ]
    for sql in bad:
        with pytest.raises(SqlParseError):
            parse_select(sql)
    assert issubclass(SqlParseError, ValueError)
