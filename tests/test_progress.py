import io

import pytest

from layerlens._util.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_line_gives_count_rate_and_time_left():
    bar = Progress(1000, "image", stream=io.StringIO())
    bar.done = 250
    line = bar.line(5.0)
    assert line.startswith("[#####...............] 250/1,000 images")
    assert "50 images/s" in line
    assert line.endswith("15 s left")  # 750 more at 50 per second


def test_final_line_says_how_long_it_took():
    bar = Progress(20_000, "image", stream=io.StringIO())
    bar.done = 20_000
    line = bar.line(125.0, final=True)
    assert "20,000/20,000 images" in line and "160 images/s" in line and line.endswith("took 2 min 05 s")


def test_unknown_total_has_no_bar_and_no_time_left():
    bar = Progress(None, "image", stream=io.StringIO())
    bar.done = 30
    line = bar.line(2.0)
    assert line == "30 images · 15 images/s"


@pytest.mark.parametrize(("done", "seconds", "expected"), [(3, 2.0, "1.5 explanations/s"), (1, 4.0, "4.0 s each")])
def test_slow_rates_stay_readable(done, seconds, expected):
    bar = Progress(10, "explanation", stream=io.StringIO())
    bar.done = done
    assert expected in bar.line(seconds)


def test_a_log_gets_whole_lines_and_a_terminal_one_redrawn_line():
    log = io.StringIO()
    bar = Progress(100, "image", stream=log)
    for _ in range(10):
        bar.add(10)
    bar.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert len(lines) == 2  # the first add and the close: a log is written to every 15 s at most
    assert "100/100 images" in lines[-1] and "took" in lines[-1]

    terminal = _Terminal()
    bar = Progress(100, "image", stream=terminal)
    bar.add(100)
    bar.close()
    text = terminal.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and text.count("\n") == 1


def test_a_long_pass_stays_on_one_short_line():
    bar = Progress(2000, "explanation", stream=io.StringIO())
    bar.done = 10
    line = bar.line(33.0)
    assert line.endswith("3.3 s each · 1 h 49 min left") and len(line) <= 80
    bar.done = 1800
    assert bar.line(1800.0).endswith("3 min 20 s left")  # 200 more at 1 per second
