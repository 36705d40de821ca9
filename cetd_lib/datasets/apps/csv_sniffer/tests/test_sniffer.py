import pytest

from sniffer import (
    SniffResult,
    detect_delimiter,
    has_header,
    infer_type,
    read_records,
    sniff,
    split_row,
)


def test_split_row_plain_and_quoted():
    assert split_row("a,b,,c", ",") == ["a", "b", "", "c"]
    assert split_row('x;"a;b";"say ""hi"""', ";") == ["x", "a;b", 'say "hi"']


def test_split_row_keeps_whitespace_and_rejects_unterminated_quote():
    assert split_row(" a | b ", "|") == [" a ", " b "]
    with pytest.raises(ValueError):
        split_row('a,"broken', ",")


def test_detect_semicolon():
    sample = "name;age;city\nann;31;Oslo\nbob;27;Rome\n"
    assert detect_delimiter(sample) == ";"


def test_detect_prefers_consistent_over_frequent():
    # commas are more frequent overall but vary per line; tabs are consistent
    sample = "a,b,c\td\ne\tf,g\nh,i,j,k\tl\n"
    assert detect_delimiter(sample) == "\t"


def test_detect_ignores_delimiters_inside_quotes():
    sample = 'id|note\n1|"x, y, z"\n2|"p, q"\n'
    assert detect_delimiter(sample) == "|"


def test_detect_falls_back_to_highest_total_and_errors():
    assert detect_delimiter("a;b\nc;d;e\nf\n") == ";"
    assert detect_delimiter("a,b\nc;d\n", candidates=";,") == ";"
    with pytest.raises(ValueError):
        detect_delimiter("just words\nmore words\n")
    with pytest.raises(ValueError):
        detect_delimiter("   \n\n")


def test_infer_type_rules():
    assert infer_type(["1", "-2", "+30"]) == "int"
    assert infer_type(["1", "2.5", "3e2"]) == "float"
    assert infer_type(["True", "false", ""]) == "bool"
    assert infer_type(["1", "true"]) == "str"
    assert infer_type(["", "  "]) == "str"
    assert infer_type(["1_000"]) == "str"


def test_has_header():
    assert has_header([["id", "score"], ["1", "2.5"], ["2", "3"]]) is True
    assert has_header([["1", "2.5"], ["2", "3"]]) is False
    assert has_header([["name", "city"], ["ann", "oslo"]]) is False
    assert has_header([["id"]]) is False


def test_sniff_with_header():
    text = "id,name,score,active\n1,ann,9.5,true\n2,bob,7,false\n3,cy,,TRUE\n"
    result = sniff(text)
    assert isinstance(result, SniffResult)
    assert result.delimiter == ","
    assert result.has_header is True
    assert result.columns == ["id", "name", "score", "active"]
    assert result.types == ["int", "str", "float", "bool"]
    assert result.row_count == 3


def test_sniff_without_header_generates_names():
    result = sniff("1\t2\n3\t4\n\n5\t6\n")
    assert result.delimiter == "\t"
    assert result.has_header is False
    assert result.columns == ["col1", "col2"]
    assert result.types == ["int", "int"]
    assert result.row_count == 3


def test_sniff_pads_short_rows():
    result = sniff("a,b,c\n1,2,3\n4,5\n", candidates=",")
    assert result.types == ["int", "int", "int"]
    assert result.row_count == 2


def test_read_records_converts_values():
    text = "id;price;ok;label\n1;2.50;yes;x\n2;;no;y\n"
    records = read_records("id;price;flag;label\n1;2.50;true;x\n2;;False;y\n")
    assert records == [
        {"id": 1, "price": 2.5, "flag": True, "label": "x"},
        {"id": 2, "price": None, "flag": False, "label": "y"},
    ]
    assert read_records(text)[0]["ok"] == "yes"
