from datetime import datetime

import pytest

from analyzer import LogAnalyzer, summarize
from records import LEVELS, LogRecord, extract_fields, normalize_level, parse_line, severity

LOG = """\
2024-03-01 09:58:12 [INFO] web: GET /index status=200 ms=12
2024-03-01 10:00:05 [ERROR] auth: Login failed user=bob ip="10.0.0.7"
2024-03-01 10:15:44 [warn] auth: Slow login user=amy

this line is garbage
2024-03-01 10:59:59 [ERROR] db: Connection reset
2024-03-01 11:02:00 [CRITICAL] db: Disk full on /var
2024-03-01T11:30:00 [DEBUG] web: cache miss key=home
2024-02-30 12:00:00 [INFO] web: impossible date
2024-03-01 12:00:00 [NOTICE] web: unknown level
2024-03-01 12:05:00 [ERROR] auth: Login failed user=bob
"""


def load():
    an = LogAnalyzer()
    an.feed_text(LOG)
    return an


def test_parse_line_fields():
    rec = parse_line('2024-03-01 10:00:05 [ERROR] auth: Login failed user=bob ip="10.0.0.7"')
    assert isinstance(rec, LogRecord)
    assert rec.timestamp == datetime(2024, 3, 1, 10, 0, 5)
    assert rec.level == "ERROR"
    assert rec.source == "auth"
    assert rec.message == 'Login failed user=bob ip="10.0.0.7"'
    assert rec.fields == {"user": "bob", "ip": "10.0.0.7"}


def test_parse_line_rejects_malformed():
    assert parse_line("garbage") is None
    assert parse_line("2024-02-30 12:00:00 [INFO] web: bad date") is None
    assert parse_line("2024-03-01 12:00:00 [NOTICE] web: bad level") is None
    assert parse_line("2024-03-01 12:00:00 INFO web: no brackets") is None


def test_parse_line_t_separator_and_aliases():
    rec = parse_line("2024-03-01T11:30:00 [fatal] core.io: boom")
    assert rec.level == "CRITICAL"
    assert rec.source == "core.io"
    assert rec.hour_bucket == "2024-03-01 11:00"


def test_level_helpers():
    assert LEVELS == ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
    assert normalize_level(" Warn ") == "WARNING"
    assert severity("debug") == 0
    assert severity("CRITICAL") == 4
    with pytest.raises(ValueError):
        severity("loud")


def test_extract_fields():
    assert extract_fields('a=1 b="two words" c= d=x=y') == {"a": "1", "b": "two words", "d": "x=y"}
    assert extract_fields("nothing here") == {}


def test_feed_counts_and_malformed():
    an = LogAnalyzer()
    added = an.feed_text(LOG)
    assert added == 7
    assert len(an.records) == 7
    assert an.malformed == 3
    assert an.feed(["", "   ", "2024-03-02 00:00:00 [INFO] web: later"]) == 1
    assert an.malformed == 3


def test_count_by_level_includes_zeros_in_order():
    assert load().count_by_level() == {"DEBUG": 1, "INFO": 1, "WARNING": 1, "ERROR": 3, "CRITICAL": 1}
    assert list(LogAnalyzer().count_by_level().values()) == [0, 0, 0, 0, 0]


def test_top_sources_ties_alphabetical():
    an = load()
    assert an.top_sources() == [("auth", 3), ("db", 2), ("web", 2)]
    assert an.top_sources(1) == [("auth", 3)]


def test_per_hour_buckets():
    an = load()
    assert an.per_hour() == {"2024-03-01 10:00": 2, "2024-03-01 11:00": 1, "2024-03-01 12:00": 1}
    assert an.per_hour("critical") == {"2024-03-01 11:00": 1}


def test_filter_combinations():
    an = load()
    assert [r.source for r in an.filter(min_level="warning")] == ["auth", "auth", "db", "db", "auth"]
    assert len(an.filter(source="auth", contains="LOGIN FAILED")) == 2
    window = an.filter(since=datetime(2024, 3, 1, 10, 0, 5), until=datetime(2024, 3, 1, 11, 2, 0))
    assert [r.timestamp.minute for r in window] == [0, 15, 59]
    assert an.filter() == an.records


def test_field_counts_and_time_span():
    an = load()
    assert an.field_counts("user") == [("bob", 2), ("amy", 1)]
    assert an.field_counts("missing") == []
    assert an.time_span() == (datetime(2024, 3, 1, 9, 58, 12), datetime(2024, 3, 1, 12, 5, 0))
    assert LogAnalyzer().time_span() is None


def test_summary_report():
    assert summarize(load()) == (
        "records: 7 (malformed: 3)\n"
        "DEBUG: 1\n"
        "INFO: 1\n"
        "WARNING: 1\n"
        "ERROR: 3\n"
        "CRITICAL: 1\n"
        "top source: auth (3)"
    )
    assert summarize(LogAnalyzer()) == "records: 0 (malformed: 0)\ntop source: none"
