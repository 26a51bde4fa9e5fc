"""Read Lynis's results: its hardening index and the points it did not give, per test.

Used by the hardening scenario's test and, as a command, by tests/benchmarks/vm-hardening.sh:
    python3 lynis_report.py REPORT.dat LYNIS.log LABEL
"""

import re
import sys


def index(report):
    """(hardening_index, lynis_version) from lynis-report.dat's text."""
    values = dict(re.findall(r"^(hardening_index|lynis_version)=(.*)$", report, re.M))
    return int(values["hardening_index"]), values["lynis_version"]


def points_left(log):
    """{test id: hardening points not given} from lynis.log's text, most first: what the figure still misses."""
    left, test = {}, "?"
    for line in log.splitlines():
        found = re.search(r"Performing test ID (\S+)", line)
        if found:
            test = found.group(1)
        found = re.search(r"partial number of hardening points \((\d+) of (\d+)\)", line)
        if found and int(found.group(2)) > int(found.group(1)):
            left[test] = left.get(test, 0) + int(found.group(2)) - int(found.group(1))
    return dict(sorted(left.items(), key=lambda item: -item[1]))


if __name__ == "__main__":
    report_path, log_path, label = sys.argv[1:4]
    with open(report_path, encoding="utf-8") as report, open(log_path, encoding="utf-8") as log:
        value, version = index(report.read())
        left = ", ".join(f"{test} {points}" for test, points in points_left(log.read()).items())
    print(f"lynis {label}: hardening_index {value} (Lynis {version}); points not given: {left}")
