"""console/cli.py against the examples of the Go code the docker CLI uses: go-units'
duration and size examples (docker/go-units duration_test.go, size_test.go) and Go's
strconv.Quote tests. The parity tests compare with the CLI itself, but only at the ages
and sizes the test daemons happen to have."""

import pytest

from console import cli

DAY, WEEK, MONTH, YEAR = 86400, 7 * 86400, 30 * 86400, 365 * 86400


@pytest.mark.parametrize("seconds, text", [
    (0.45, "Less than a second"), (1, "1 second"), (47, "47 seconds"), (60, "About a minute"),
    (180, "3 minutes"), (35 * 60 + 40, "35 minutes"), (3600, "About an hour"),
    (3600 + 45 * 60, "2 hours"), (3 * 3600 + 59 * 60, "4 hours"), (DAY, "24 hours"),
    (DAY + 12 * 3600, "36 hours"), (2 * DAY, "2 days"), (13 * DAY + 5 * 3600, "13 days"),
    (2 * WEEK, "2 weeks"), (4 * WEEK + 3 * DAY, "4 weeks"), (MONTH, "4 weeks"),
    (MONTH + 2 * WEEK, "6 weeks"), (2 * MONTH, "2 months"), (5 * MONTH + 2 * WEEK, "5 months"),
    (24 * MONTH, "24 months"), (24 * MONTH + 2 * WEEK, "2 years"), (3 * YEAR + 2 * MONTH, "3 years"),
])  # fmt: skip
def test_since_is_go_units_human_duration(seconds, text):
    assert cli.since(seconds) == f"{text} ago"


@pytest.mark.parametrize("n, text", [
    (1000, "1kB"), (1024, "1.024kB"), (1000000, "1MB"), (1048576, "1.049MB"), (2e6, "2MB"),
    (3.42e9, "3.42GB"), (5.372e12, "5.372TB"), (2.22e15, "2.22PB"), (1e28, "1e+04YB"),
])  # fmt: skip
def test_size_is_go_units_human_size(n, text):
    assert cli.size(n, precision=4) == text


@pytest.mark.parametrize("n, text", [
    (1024, "1KiB"), (1024**2, "1MiB"), (2 * 1024**2, "2MiB"), (3.42 * 1024**3, "3.42GiB"),
    (5.372 * 1024**4, "5.372TiB"), (2.22 * 1024**5, "2.22PiB"), (1024**10, "1.049e+06YiB"),
])  # fmt: skip
def test_memory_is_go_units_bytes_size(n, text):
    assert cli.memory(n) == text


@pytest.mark.parametrize("text, quoted", [
    ("\a\b\f\r\n\t\v", r'"\a\b\f\r\n\t\v"'), ("\\", r'"\\"'), ("☺", '"☺"'),
    ("\U0010ffff", r'"\U0010ffff"'), ("\x04", r'"\x04"'), ("\x7f", r'"\x7f"'),
    ("!\u00a0!\u2000!\u3000!", r'"!\u00a0!\u2000!\u3000!"'), ('say "hi"', r'"say \"hi\""'),
])  # fmt: skip
def test_quoted_is_go_strconv_quote(text, quoted):
    assert cli.quoted(text) == quoted
