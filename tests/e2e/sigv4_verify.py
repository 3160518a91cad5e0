"""Checks AWS Signature Version 4 on requests received by the tests' fake AWS endpoints.

    ok, reason, access_key_id, region, service = verify(
        "POST", "/path?query", [("Host", "127.0.0.1:5000"), ...], b"body", {"AKID": "secret"})

An implementation of the published algorithm of its own, written from AWS's description and
not from the project's C signer, so that a shared misunderstanding does not pass unnoticed. It
recomputes the signature from the request as received, over the request's own SignedHeaders
list (clients sign different sets of headers), as the service does:

  canonical request = method, canonical URI (the path as sent, dot segments and repeated
                      slashes removed, percent-encoded once more), canonical query (decoded,
                      re-encoded, sorted), canonical headers (the signed ones, lower-cased
                      names, values trimmed with inner runs of blanks collapsed, repeats joined
                      with ","), the signed header list, the payload hash
                      (X-Amz-Content-Sha256 when sent, else SHA-256 of the body)
  string to sign    = "AWS4-HMAC-SHA256", X-Amz-Date, the credential scope, SHA-256 of the
                      canonical request
  signing key       = HMAC chain "AWS4" + secret -> date -> region -> service -> "aws4_request"

secret_lookup: a mapping or a callable from access key id to secret (None when unknown).
On success reason is ""; on failure it says what did not match (never a secret).
"""

import calendar
import hashlib
import hmac
import re
import time
import urllib.parse

__all__ = ["verify", "canonical_request", "ALGORITHM"]

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$")
_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")


def _encode(data, keep_slash=False):
    out = []
    for byte in data:
        if byte in _UNRESERVED or (keep_slash and byte == 0x2F):
            out.append(chr(byte))
        else:
            out.append("%%%02X" % byte)
    return "".join(out)


def _remove_dot_segments(path):
    """RFC 3986 5.2.4, plus what AWS services also do: empty segments (repeated slashes) go."""
    segments = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
        else:
            segments.append(segment)
    result = "/" + "/".join(segments)
    if path.endswith("/") and segments:
        result += "/"
    return result


def _canonical_uri(path, normalize_path):
    if not path:
        path = "/"
    if normalize_path:
        path = _remove_dot_segments(path)
    return _encode(path.encode("utf-8"), keep_slash=True)


def _canonical_query(query):
    pairs = []
    for component in query.split("&"):
        if not component:
            continue
        name, _, value = component.partition("=")
        pairs.append((_encode(urllib.parse.unquote_to_bytes(name)),
                      _encode(urllib.parse.unquote_to_bytes(value))))
    pairs.sort()
    return "&".join("%s=%s" % pair for pair in pairs)


def _header_values(headers):
    values = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(" ".join(value.split()))
    return values


def canonical_request(method, path_with_query, headers, signed_headers, payload_hash,
                      normalize_path=True):
    """The canonical request text, or raises ValueError naming a signed header not sent."""
    path, _, query = path_with_query.partition("?")
    values = _header_values(headers)
    lines = [method, _canonical_uri(path, normalize_path), _canonical_query(query)]
    for name in signed_headers:
        if name not in values:
            raise ValueError("signed header %r was not sent" % name)
        lines.append("%s:%s" % (name, ",".join(values[name])))
    lines.append("")
    lines.append(";".join(signed_headers))
    lines.append(payload_hash)
    return "\n".join(lines)


def _hmac(key, text):
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def _lookup(secret_lookup, access_key_id):
    if callable(secret_lookup):
        return secret_lookup(access_key_id)
    return secret_lookup.get(access_key_id)


def verify(method, path_with_query, headers, body, secret_lookup, normalize_path=True,
           max_skew=None, now=None):
    """Returns (ok, reason, access_key_id, region, service); the last three are None when the
    Authorization header cannot be read. max_skew (seconds): also reject an X-Amz-Date that far
    from `now` (default: the clock), as AWS does with 15 minutes."""
    headers = [(str(name), str(value)) for name, value in headers]
    values = _header_values(headers)
    authorizations = values.get("authorization", [])
    if len(authorizations) != 1:
        return (False, "expected one Authorization header, got %d" % len(authorizations),
                None, None, None)
    match = _AUTHORIZATION.match(authorizations[0])
    if not match:
        return False, "the Authorization header is not AWS4-HMAC-SHA256 with Credential, " \
            "SignedHeaders and Signature", None, None, None
    parts = match.group("credential").split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        return False, "Credential is not KEY/DATE/REGION/SERVICE/aws4_request", None, None, None
    access_key_id, date, region, service, _ = parts

    def fail(reason):
        return False, reason, access_key_id, region, service

    signed_headers = match.group("signed").split(";")
    if signed_headers != sorted(set(signed_headers)) or any(
            name != name.lower() or not name for name in signed_headers):
        return fail("SignedHeaders %r is not a sorted list of distinct lower-case names"
                    % match.group("signed"))
    if "host" not in signed_headers:
        return fail("the host header is not signed")
    amz_dates = values.get("x-amz-date", [])
    if len(amz_dates) != 1 or not _AMZ_DATE.match(amz_dates[0]):
        return fail("expected one X-Amz-Date header of the form YYYYMMDDTHHMMSSZ")
    amz_date = amz_dates[0]
    if "x-amz-date" not in signed_headers:
        return fail("X-Amz-Date is not signed")
    if amz_date[:8] != date:
        return fail("the credential scope's date %s is not the date of X-Amz-Date %s"
                    % (date, amz_date))
    if max_skew is not None:
        sent = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        skew = abs((time.time() if now is None else now) - sent)
        if skew > max_skew:
            return fail("X-Amz-Date %s is %d s away from the server's clock" % (amz_date, skew))
    if "x-amz-security-token" in values and "x-amz-security-token" not in signed_headers:
        return fail("X-Amz-Security-Token is sent but not signed")

    body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    body_hash = hashlib.sha256(body).hexdigest()
    content_hashes = values.get("x-amz-content-sha256", [])
    if len(content_hashes) > 1:
        return fail("X-Amz-Content-Sha256 is sent more than once")
    if content_hashes:
        payload_hash = content_hashes[0]
        if payload_hash != UNSIGNED_PAYLOAD and payload_hash != body_hash:
            return fail("X-Amz-Content-Sha256 is not the SHA-256 of the body")
    else:
        payload_hash = body_hash

    secret = _lookup(secret_lookup, access_key_id)
    if secret is None:
        return fail("unknown access key id %s" % access_key_id)
    try:
        canonical = canonical_request(method, path_with_query, headers, signed_headers,
                                      payload_hash, normalize_path)
    except ValueError as error:
        return fail(str(error))
    scope = "/".join((date, region, service, "aws4_request"))
    string_to_sign = "\n".join((ALGORITHM, amz_date, scope,
                                hashlib.sha256(canonical.encode("utf-8")).hexdigest()))
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        key = _hmac(key, part)
    expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match.group("signature")):
        return fail("the signature does not match; canonical request:\n%s" % canonical)
    return True, "", access_key_id, region, service
