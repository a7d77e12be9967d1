import re

import layerlens as ll
from layerlens.app.demo import _groups_line


def test_the_demo_says_the_accuracy_of_each_metadata_group(site_runs):
    analysis = ll.load(site_runs[0])  # metadata: a scanner of three values
    line = _groups_line(analysis)
    table = analysis.accuracy_by("scanner")
    assert line == "accuracy by scanner: " + ", ".join(f"{v} {a:.3f}" for v, a in table["accuracy"].items())
    assert re.fullmatch(r"accuracy by scanner: (\w+ \d\.\d{3}, ){2}\w+ \d\.\d{3}", line)
    assert _groups_line(ll.load(site_runs[1])) == ""  # no labels, no accuracy
