"""Runs the AWS Signature Version 4 vector sets in ../shared through lambda.sigv4.

Sets: the classic suite (conformance/sigv4, 31 cases), the aws-signing-test-suite v4 cases
(acceptance/sigv4/aws-signing-test-suite/v4: each signed twice, Authorization header and
presigned URL) and the smithy-rs extras (acceptance/sigv4/smithy-rs-extras, among them the
Lambda Invoke whose ARN path is encoded twice), and those sets again signed as S3 signs (the
path encoded once). Each set is one run of the binary
(lua/sigv4_cases.lua), which signs every case and prints the results as JSON; this file
parses the vector files and compares. Skipped, saying so, when ../shared is absent.
"""

import calendar
import hashlib
import json
import os
import tempfile
import time
import unittest
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from harness import SHARED_DIR, run_cli

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "lua" / "sigv4_cases.lua"
CLASSIC_DIR = Path(SHARED_DIR, "conformance", "sigv4")
V4_DIR = Path(SHARED_DIR, "acceptance", "sigv4", "aws-signing-test-suite", "v4")
SMITHY_DIR = Path(SHARED_DIR, "acceptance", "sigv4", "smithy-rs-extras")

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


@dataclass
class Case:
    id: str
    options: dict
    presign: bool = False
    # result field -> expected text
    expect: Dict[str, str] = field(default_factory=dict)
    # further checks: result -> None, or what is wrong
    checks: List[Callable[[dict], Optional[str]]] = field(default_factory=list)


def read_text(path):
    return Path(path).read_bytes().decode("utf-8")


def parse_request(text, fold):
    """(method, target, [[name, value]], body) of a raw request as the vector files write it.

    The target may hold spaces and raw UTF-8 (the suites sign such paths). A line starting with
    whitespace continues the previous header (obs-fold). The two suites disagree on what that
    means: the classic suite signs each line as one more value of the header
    (fold="values": "value1,value2,value3"), the CRT suite keeps the line breaks in the value,
    which the signer's whitespace squeezing turns into single spaces (fold="join")."""
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    method, rest = lines[0].split(" ", 1)
    target = rest.rpartition(" ")[0] if rest.endswith("HTTP/1.1") else rest
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            name, value = headers[-1]
            if fold == "values":
                headers.append([name, line])
            else:
                headers[-1] = [name, value + "\n" + line]
        else:
            name, _, value = line.partition(":")
            headers.append([name, value])
    return method, target, headers, body


def pop_header(headers, name):
    """Removes the header (any case) from the list; returns its stripped value or None."""
    for i, (key, value) in enumerate(headers):
        if key.lower() == name:
            del headers[i]
            return value.strip()
    return None


def header_value(headers, name):
    return next((value.strip() for key, value in headers if key.lower() == name), None)


def base_options(method, target, headers, body, when, region="us-east-1", service="service",
                 access_key=ACCESS_KEY, secret_key=SECRET_KEY, token=None):
    credentials = {"access_key_id": access_key, "secret_access_key": secret_key}
    if token:
        credentials["session_token"] = token
    return {
        "method": method,
        "url": "https://" + header_value(headers, "host") + target,
        "headers": headers,
        "body": body,
        "service": service,
        "region": region,
        "credentials": credentials,
        "time": when,
    }


def has_headers(expected_request):
    """Check: every header sign() returned is in the expected signed request."""
    _, _, wanted, _ = parse_request(expected_request, "join")
    wanted = {(name.lower(), value.strip()) for name, value in wanted}

    def check(result):
        for name, value in result.get("headers", []):
            if (name.lower(), value) not in wanted:
                return "header %s: %s is not in the expected signed request" % (name, value)
        return None

    return check


def request_line_is(expected_line, mask_signature=False):
    """Check: "METHOD target HTTP/1.1" of the presigned URL equals the expected one. With
    mask_signature, only the set of query parameters is compared, less X-Amz-Signature."""

    def params(line):
        query = line.split(" ")[1].partition("?")[2]
        return sorted(p for p in query.split("&") if not p.startswith("X-Amz-Signature="))

    def check(result):
        url = result["url"]
        target = "/" + url.split("://", 1)[1].partition("/")[2]
        method = expected_line.split(" ", 1)[0]
        line = "%s %s HTTP/1.1" % (method, target)
        same = params(line) == params(expected_line) if mask_signature else line == expected_line
        return None if same else "request line %r, expected %r" % (line, expected_line)

    return check


def classic_cases():
    notes = []
    token_note = read_text(CLASSIC_DIR / "post-sts-token" / "readme.txt").split()
    token = token_note[-1]
    cases = []
    for request in sorted(CLASSIC_DIR.rglob("*.req")):
        name = request.stem
        method, target, headers, body = parse_request(read_text(request), "values")
        when = pop_header(headers, "x-amz-date")
        header_token = pop_header(headers, "x-amz-security-token")
        options = base_options(method, target, headers, body, when, token=header_token)
        case = Case(name, options)
        if name == "post-sts-header-after":
            # The token is added after signing: sent, but not signed.
            options["credentials"]["session_token"] = token
            options["omit_session_token"] = True
            case.checks.append(
                lambda r: None
                if ["X-Amz-Security-Token", token] in r["headers"]
                else "X-Amz-Security-Token missing from the returned headers"
            )
        if name == "post-x-www-form-urlencoded-parameters":
            # This case's expected values (.creq, .sts, .authz agree with each other) were
            # computed with the form parameters as the query string and an empty payload.
            options["url"] += "?" + body
            options["body"] = ""
            notes.append(name + ": signed with its form body as the query and an empty payload, "
                         "as the suite's expected values were computed")
        expected_creq = read_text(request.with_suffix(".creq"))
        if name == "post-x-www-form-urlencoded":
            # Known defect of the data: the .creq's signed header line disagrees with its own
            # header lines and with .sts/.authz; every other line is compared.
            defect_free = expected_creq.split("\n")
            case.checks.append(
                lambda r, want=defect_free: None
                if r["canonical_request"].split("\n")[:-2] == want[:-2]
                and r["canonical_request"].split("\n")[-1] == want[-1]
                else "canonical request differs (signed header line not compared)"
            )
            notes.append(name + ": .creq compared without its defective signed-header line")
        else:
            case.expect["canonical_request"] = expected_creq
        case.expect["string_to_sign"] = read_text(request.with_suffix(".sts"))
        case.expect["authorization"] = read_text(request.with_suffix(".authz"))
        cases.append(case)
    return cases, notes


def iso_to_epoch(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def v4_cases():
    cases = []
    for directory in sorted(p for p in V4_DIR.iterdir() if p.is_dir()):
        context = json.loads(read_text(directory / "context.json"))
        method, target, headers, body = parse_request(read_text(directory / "request.txt"), "join")
        credentials = context["credentials"]
        options = base_options(
            method, target, headers, body, iso_to_epoch(context["timestamp"]),
            region=context["region"], service=context["service"],
            access_key=credentials["access_key_id"], secret_key=credentials["secret_access_key"],
            token=credentials.get("token"),
        )
        options["normalize_path"] = context["normalize"]
        options["omit_session_token"] = context.get("omit_session_token", False)

        header_options = dict(options, content_sha256_header=context["sign_body"])
        cases.append(Case(
            directory.name + " (header)", header_options,
            expect={
                "canonical_request": read_text(directory / "header-canonical-request.txt"),
                "string_to_sign": read_text(directory / "header-string-to-sign.txt"),
                "signature": read_text(directory / "header-signature.txt"),
            },
            checks=[has_headers(read_text(directory / "header-signed-request.txt"))],
        ))
        query_options = dict(options, expires=context["expiration_in_seconds"])
        signed_request = read_text(directory / "query-signed-request.txt")
        cases.append(Case(
            directory.name + " (query)", query_options, presign=True,
            expect={
                "canonical_request": read_text(directory / "query-canonical-request.txt"),
                "string_to_sign": read_text(directory / "query-string-to-sign.txt"),
                "signature": read_text(directory / "query-signature.txt"),
            },
            checks=[request_line_is(signed_request.split("\n", 1)[0])],
        ))
    return cases


def smithy_cases():
    cases = []
    notes = []
    for layout in ("classic", "v4"):
        folder = SMITHY_DIR / layout / "double-url-encode"
        request = folder / ("double-url-encode.req" if layout == "classic" else "request.txt")
        method, target, headers, body = parse_request(read_text(request), "values")
        when = pop_header(headers, "x-amz-date")
        options = base_options(method, target, headers, body, when, region="us-east-2",
                               service="lambda")
        if layout == "classic":
            expect = {
                "canonical_request": read_text(folder / "double-url-encode.creq"),
                "string_to_sign": read_text(folder / "double-url-encode.sts").rstrip("\n"),
                "authorization": read_text(folder / "double-url-encode.authz"),
            }
            checks = []
        else:
            expect = {
                "canonical_request": read_text(folder / "header-canonical-request.txt"),
                "string_to_sign": read_text(folder / "header-string-to-sign.txt").rstrip("\n"),
            }
            checks = [has_headers(read_text(folder / "header-signed-request.txt"))]
        cases.append(Case(layout + "/double-url-encode (Lambda ARN)", options, expect=expect,
                          checks=checks))

        folder = SMITHY_DIR / layout / "double-encode-path"
        request = folder / ("double-encode-path.req" if layout == "classic" else "request.txt")
        creq = folder / ("double-encode-path.creq" if layout == "classic"
                         else "header-canonical-request.txt")
        method, target, headers, body = parse_request(read_text(request), "values")
        pop_header(headers, "x-amz-date")
        # The .creq was made at 20210511T154045Z, not at the .req's date; only it is usable.
        options = base_options(method, target, headers, body, "20210511T154045Z")
        cases.append(Case(layout + "/double-encode-path", options,
                          expect={"canonical_request": read_text(creq)}))
    notes.append("double-encode-path: canonical request only (the vectors hold no usable "
                 "signature), signed at the .creq's own time 20210511T154045Z")

    # iam.creq holds the string to sign of the IAM ListUsers request of the AWS documentation
    # (GET https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08 with a form
    # Content-Type); the request is rebuilt from that description.
    headers = [["Host", "iam.amazonaws.com"],
               ["Content-Type", "application/x-www-form-urlencoded; charset=utf-8"]]
    options = base_options("GET", "/?Action=ListUsers&Version=2010-05-08", headers, "",
                           "20150830T123600Z", service="iam")
    cases.append(Case("classic/iam (string to sign)", options, expect={
        "string_to_sign": read_text(SMITHY_DIR / "classic" / "iam" / "iam.creq").rstrip("\n"),
    }))

    # A presigned URL made with a key id whose secret is unknown: its layout is compared (the
    # same parameters and values), not its signature.
    folder = SMITHY_DIR / "classic" / "get-vanilla-query-order-key-case"
    signed = read_text(folder / "get-vanilla-query-order-key-case.qpsreq")
    line = signed.split("\n", 1)[0]
    query = dict(p.split("=", 1) for p in line.split(" ")[1].partition("?")[2].split("&"))
    headers = [["Host", "example.amazonaws.com"]]
    options = base_options("GET", "/?Param2=value2&Param1=value1", headers, "",
                           query["X-Amz-Date"], access_key="ANOTREAL",
                           secret_key="not-the-real-secret")
    options["expires"] = int(query["X-Amz-Expires"])
    cases.append(Case("classic/get-vanilla-query-order-key-case (presigned layout)", options,
                      presign=True, checks=[request_line_is(line, mask_signature=True)]))
    notes.append("get-vanilla-query-order-key-case.qpsreq: parameters compared, not the "
                 "signature (its secret key is unknown)")
    return cases, notes


def run_cases(cases):
    """Signs every case in one run of the binary; returns {id: outcome}."""
    with tempfile.TemporaryDirectory(prefix="clc-sigv4-") as scratch:
        path = os.path.join(scratch, "cases.json")
        with open(path, "w", encoding="utf-8") as file:
            json.dump([{"id": c.id, "presign": c.presign, "options": c.options} for c in cases],
                      file)
        result = run_cli(["run", str(DRIVER), path], timeout=120)
    if result.returncode != 0:
        raise AssertionError("driver failed (%d): %s" % (
            result.returncode, result.stderr.decode("utf-8", "replace")))
    return {outcome["id"]: outcome for outcome in json.loads(result.stdout)}


def failures_of(cases):
    outcomes = run_cases(cases)
    failures = []
    for case in cases:
        outcome = outcomes.get(case.id, {})
        result = outcome.get("result")
        if result is None:
            failures.append((case.id, "no result: %s" % (
                outcome.get("raised") or outcome.get("failed") or "missing")))
            continue
        for key, want in case.expect.items():
            if result.get(key) != want:
                failures.append((case.id, "%s:\n  got      %r\n  expected %r" % (
                    key, result.get(key), want)))
        for check in case.checks:
            problem = check(result)
            if problem:
                failures.append((case.id, problem))
    return failures


def s3_cases():
    """The suites' cases signed as S3 signs (double_encode = false), where S3 would sign them.

    The suites sign every path encoded once more than on the wire. Where the wire path holds no
    '%' (raw UTF-8 and spaces, as the suites write them), encoding it once more is encoding it
    once, which is what S3 signs: the published values must come out unchanged (paths the
    suites normalize are left out: S3 does not normalize). Where it does hold encoded bytes
    (the Lambda ARN, API Gateway's @connections), S3 signs the path encoded once, here the path
    as sent: the published canonical request with its path line decoded once ("%253A" back to
    "%3A") is the expectation, and the string to sign must be over that canonical request."""
    cases = []
    notes = []
    candidates = []
    if CLASSIC_DIR.is_dir():
        candidates += classic_cases()[0]
    if V4_DIR.is_dir():
        candidates += [c for c in v4_cases() if c.options["normalize_path"] is False]
    for case in candidates:
        path = "/" + case.options["url"].split("://", 1)[1].partition("/")[2].partition("?")[0]
        # Paths the suites normalize are signed otherwise by S3 (it does not normalize).
        dots = any(segment in (".", "..") for segment in path.split("/"))
        if "%" in path or (case.options.get("normalize_path", True) and ("//" in path or dots)):
            continue
        options = dict(case.options, normalize_path=False, double_encode=False)
        cases.append(Case(case.id + " [s3]", options, presign=case.presign,
                          expect=dict(case.expect), checks=list(case.checks)))
    if SMITHY_DIR.is_dir():
        for case in smithy_cases()[0]:
            if "/double-" not in case.id:
                continue
            lines = case.expect["canonical_request"].split("\n")
            lines[1] = lines[1].replace("%25", "%")
            options = dict(case.options, double_encode=False)
            cases.append(Case(case.id + " [s3]", options,
                              expect={"canonical_request": "\n".join(lines)},
                              checks=[string_to_sign_matches]))
        notes.append("double-url-encode, double-encode-path [s3]: canonical request with the "
                     "path as sent (%3A, not %253A), derived from the published one")
    return cases, notes


def string_to_sign_matches(result):
    """Check: the string to sign ends with the SHA-256 of the canonical request."""
    digest = hashlib.sha256(result["canonical_request"].encode("utf-8")).hexdigest()
    last = result["string_to_sign"].rsplit("\n", 1)[-1]
    return None if last == digest else "string to sign is not over the canonical request"


class SigV4Suites(unittest.TestCase):
    def run_set(self, title, cases, notes=()):
        failures = failures_of(cases)
        failed = len({case_id for case_id, _ in failures})
        print("%s: %d cases, %d passed, %d failed" % (title, len(cases), len(cases) - failed,
                                                      failed))
        for note in notes:
            print("  note: " + note)
        for case_id, why in failures:
            print("  FAIL %s: %s" % (case_id, why))
        self.assertFalse(failures, "%d of %d %s cases failed (listed above)" % (
            failed, len(cases), title))

    def require(self, path):
        if not path.is_dir():
            print("skipped: no %s (shared folder absent)" % path)
            self.skipTest("%s not available" % path)

    def test_classic_suite(self):
        self.require(CLASSIC_DIR)
        cases, notes = classic_cases()
        self.assertEqual(len(cases), 31, "the classic suite should hold 31 cases")
        self.run_set("classic suite (conformance/sigv4)", cases, notes)

    def test_aws_signing_test_suite_v4(self):
        self.require(V4_DIR)
        cases = v4_cases()
        self.assertEqual(len(cases), 2 * 38, "expected 38 v4 cases, each header and query")
        self.run_set("aws-signing-test-suite v4 (header and presigned; v4a not run)", cases)

    def test_smithy_rs_extras(self):
        self.require(SMITHY_DIR)
        cases, notes = smithy_cases()
        self.run_set("smithy-rs extras", cases, notes)

    def test_s3_single_path_encoding(self):
        self.require(CLASSIC_DIR)
        cases, notes = s3_cases()
        self.assertGreater(len(cases), 20)
        self.run_set("S3 path encoding (double_encode = false) on the suites", cases, notes)


if __name__ == "__main__":
    unittest.main()
