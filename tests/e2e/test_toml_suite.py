"""Runs the toml-test conformance suite (TOML 1.0.0 list) through tests/tools/toml_decoder.c.

Valid cases must exit 0 and print JSON equal to the case's .json; invalid cases must exit 1
with a "line L, column C: ..." message. Inputs are passed as raw bytes: some contain CR, CRLF
and invalid UTF-8 on purpose.
"""

import json
import math
import os
import re
import subprocess
import unittest
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

SHARED_DIR = os.environ.get("CARGO_LAMBDA_SHARED_DIR", "")
SUITE_DIR = Path(SHARED_DIR, "conformance", "toml-test", "tests")
FILE_LIST = SUITE_DIR / "files-toml-1.0.0"
DECODER = os.environ.get("CLC_TOOL_toml_decoder", "")
DATETIME_TYPES = {"datetime", "datetime-local", "date-local", "time-local"}


def is_scalar(node):
    return (
        isinstance(node, dict)
        and set(node) == {"type", "value"}
        and isinstance(node["type"], str)
        and isinstance(node["value"], str)
    )


def normalise_datetime(text):
    """toml-test's spelling ('T' between date and time, upper-case 'Z'), with the fraction of
    the seconds as a number: the suite writes "56.600" for a document's "56.6"."""
    if len(text) > 10 and text[10] in " t":
        text = text[:10] + "T" + text[11:]
    match = re.fullmatch(r"(.*?\d\d:\d\d:\d\d)(\.\d+)?(.*)", text.replace("z", "Z"))
    if not match:
        return (text, None)
    whole, fraction, offset = match.groups()
    return (whole + offset, Decimal("0" + fraction) if fraction else Decimal(0))


def same_scalar(expected, actual):
    kind, want, got = expected["type"], expected["value"], actual["value"]
    if kind == "integer":
        return int(want) == int(got)
    if kind == "float":
        want, got = float(want), float(got)
        return (math.isnan(want) and math.isnan(got)) or want == got
    if kind == "bool":
        return want.lower() == got.lower()
    if kind in DATETIME_TYPES:
        return normalise_datetime(want) == normalise_datetime(got)
    return want == got


def difference(expected, actual, path="$"):
    """None when equal, else a description of the first difference."""
    if is_scalar(expected):
        if not is_scalar(actual):
            return f"{path}: expected a {expected['type']} scalar, got {actual!r}"
        if actual["type"] != expected["type"]:
            return f"{path}: expected type {expected['type']}, got {actual['type']}"
        if not same_scalar(expected, actual):
            return f"{path}: expected {expected['value']!r}, got {actual['value']!r}"
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{path}: expected an array, got {actual!r}"
        if len(actual) != len(expected):
            return f"{path}: expected {len(expected)} elements, got {len(actual)}"
        for i, (want, got) in enumerate(zip(expected, actual)):
            found = difference(want, got, f"{path}[{i}]")
            if found:
                return found
        return None
    if not isinstance(actual, dict) or is_scalar(actual):
        return f"{path}: expected a table, got {actual!r}"
    if set(actual) != set(expected):
        return f"{path}: expected keys {sorted(expected)}, got {sorted(actual)}"
    for key in expected:
        found = difference(expected[key], actual[key], f"{path}.{key}")
        if found:
            return found
    return None


def run_case(case):
    """Returns None when the case passes, else why it failed."""
    source = (SUITE_DIR / case).read_bytes()
    try:
        result = subprocess.run([DECODER], input=source, capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "decoder timed out"
    stderr = result.stderr.decode("utf-8", "replace").strip()
    if case.startswith("invalid/"):
        if result.returncode != 1:
            return f"expected exit status 1 for invalid TOML, got {result.returncode}"
        if not stderr.startswith("line "):
            return f"expected a 'line L, column C: ...' message, got {stderr!r}"
        return None
    if result.returncode != 0:
        return f"rejected ({result.returncode}): {stderr}"
    try:
        actual = json.loads(result.stdout)
    except ValueError as error:
        return f"decoder wrote invalid JSON: {error}"
    expected = json.loads((SUITE_DIR / case[: -len(".toml")]).with_suffix(".json").read_bytes())
    return difference(expected, actual)


class TomlTestSuite(unittest.TestCase):
    def test_toml_1_0_0_suite(self):
        if not FILE_LIST.is_file():
            print(f"skipped: no toml-test suite at {SUITE_DIR} (shared folder absent)")
            self.skipTest("toml-test suite not available")
        self.assertTrue(DECODER, "CLC_TOOL_toml_decoder is not set (run through ctest)")
        cases = [
            line.strip()
            for line in FILE_LIST.read_text(encoding="utf-8").splitlines()
            if line.strip().endswith(".toml")
        ]
        self.assertGreater(len(cases), 700, "the 1.0.0 list looks truncated")
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            outcomes = list(pool.map(run_case, cases))
        failures = [(case, why) for case, why in zip(cases, outcomes) if why]
        valid = sum(case.startswith("valid/") for case in cases)
        print(
            f"toml-test 1.0.0: {len(cases)} cases run ({valid} valid, {len(cases) - valid} "
            f"invalid), {len(cases) - len(failures)} passed, {len(failures)} failed"
        )
        for case, why in failures:
            print(f"FAIL {case}: {why}")
        if failures:
            self.fail(f"{len(failures)} of {len(cases)} toml-test cases failed (listed above)")


if __name__ == "__main__":
    unittest.main()
