"""Loopback fakes of the AWS endpoints the credential chain talks to, for the end-to-end tests:
STS (AssumeRole, signature checked with sigv4_verify; AssumeRoleWithWebIdentity), the IAM
Identity Center portal and its SSO OIDC token service, the container credentials endpoint, EC2
instance metadata, and an HTTP proxy that records what it is asked.

    with FakeSTS() as sts:
        sts.add_identity("AKIDSOURCE", "source-secret")
        sts.add_role("arn:aws:iam::123456789012:role/r", ("ASIAROLE", "role-secret", "tok"))
        ... run the binary with AWS_ENDPOINT_URL_STS=sts.url() ...
        assert sts.calls[0]["signed_by"] == "AKIDSOURCE"

Each fake records every request (testserver.Request) and answers it from its own state, the
way the service would, so a test states what exists and checks what was asked for.

AwsProbeCase runs lambda.aws in the real binary (lua/aws_probe.lua) for the test cases.
"""

import datetime
import http.server
import json
import os
import socket
import socketserver
import threading
import urllib.parse
import uuid
from xml.sax.saxutils import escape

from harness import ScratchTestCase
from sigv4_verify import verify
from testserver import Request

__all__ = ["FakeSTS", "FakeSSOPortal", "FakeSSOOIDC", "FakeContainerEndpoint", "FakeIMDS",
           "FakeProxy", "AwsProbeCase", "expiration_in", "unused_port"]

STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"


def expiration_in(seconds):
    """An RFC 3339 timestamp `seconds` from now (negative: in the past)."""
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, self.request_version,
                          list(self.headers.items()), body, None)
        status, headers, answer = self.server.fake.answer(request)
        answer = answer.encode("utf-8") if isinstance(answer, str) else answer
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_PUT = do_POST = do_DELETE = do_CONNECT = _serve

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self):
        # HTTPServer.server_bind looks up the host's FQDN, which can take seconds without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class FakeServer:
    """A loopback HTTP server whose answers come from self.handle(request) ->
    (status, [(name, value)], body)."""

    __test__ = False

    def __init__(self):
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        self._lock = threading.Lock()
        self._requests = []
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread is not None:
            self._server.shutdown()
            self._thread = None
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def url(self, path=""):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    @property
    def requests(self):
        with self._lock:
            return list(self._requests)

    def answer(self, request):
        with self._lock:
            self._requests.append(request)
            return self.handle(request)

    def handle(self, request):
        raise NotImplementedError


def _sts_error(status, code, message):
    body = ('<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code>'
            '<Message>%s</Message></Error><RequestId>fake</RequestId></ErrorResponse>'
            % (STS_NAMESPACE, escape(code), escape(message)))
    return status, [("Content-Type", "text/xml")], body


def _sts_credentials(action, credentials, role_arn, session_name):
    access_key_id, secret, token, expiration = credentials
    account, _, role_name = role_arn.partition(":role/")
    account = account.rsplit(":", 1)[-1]
    # Pretty-printed, as STS answers are: the readers must not depend on the layout.
    return 200, [("Content-Type", "text/xml")], (
        '<%sResponse xmlns="%s">\n  <%sResult>\n    <Credentials>\n'
        '      <AccessKeyId>%s</AccessKeyId>\n      <SecretAccessKey>%s</SecretAccessKey>\n'
        '      <SessionToken>%s</SessionToken>\n      <Expiration>%s</Expiration>\n'
        '    </Credentials>\n    <AssumedRoleUser>\n'
        '      <AssumedRoleId>AROAFAKEROLEID:%s</AssumedRoleId>\n'
        '      <Arn>arn:aws:sts::%s:assumed-role/%s/%s</Arn>\n    </AssumedRoleUser>\n'
        '  </%sResult>\n  <ResponseMetadata><RequestId>fake</RequestId>'
        '</ResponseMetadata>\n</%sResponse>\n'
        % (action, STS_NAMESPACE, action, escape(access_key_id), escape(secret), escape(token),
           expiration, escape(session_name), account, escape(role_name), escape(session_name),
           action, action))


class FakeSTS(FakeServer):
    """STS on loopback. AssumeRole must be signed (service sts) by a known identity, with that
    identity's session token when it has one; the role's credentials then become a known
    identity too, so the next link of a chain can sign with them. Every call is recorded in
    `calls` as {action, params, signed_by, region, service, token, error}."""

    def __init__(self):
        super().__init__()
        self.identities = {}  # access key id -> (secret, session token or None)
        self.roles = {}       # role arn -> dict(credentials, trusted, web_identity_token)
        self.calls = []
        self.failures = []    # scripted (status, code, message), used first

    def add_identity(self, access_key_id, secret, token=None):
        with self._lock:
            self.identities[access_key_id] = (secret, token)

    def add_role(self, role_arn, credentials, trusted=None, web_identity_token=None,
                 expiration=None):
        """credentials: (access key id, secret, session token). trusted: the access key ids
        allowed to assume it (None: any known identity). web_identity_token: the token that
        AssumeRoleWithWebIdentity must present."""
        with self._lock:
            self.roles[role_arn] = {
                "credentials": tuple(credentials) + (expiration or expiration_in(3600),),
                "trusted": set(trusted) if trusted is not None else None,
                "web_identity_token": web_identity_token,
            }

    def fail_next(self, status, code, message):
        with self._lock:
            self.failures.append((status, code, message))

    def handle(self, request):
        params = dict(urllib.parse.parse_qsl(request.body.decode("utf-8"),
                                             keep_blank_values=True))
        call = {"action": params.get("Action"), "params": params, "signed_by": None,
                "region": None, "service": None, "token": request.header("X-Amz-Security-Token"),
                "content_type": request.header("Content-Type"), "error": None}
        self.calls.append(call)

        def error(status, code, message):
            call["error"] = code
            return _sts_error(status, code, message)

        if request.method != "POST" or request.path.partition("?")[0] != "/":
            return error(400, "InvalidAction", "expected POST /")
        if self.failures:
            return error(*self.failures.pop(0))
        if params.get("Version") != "2011-06-15":
            return error(400, "InvalidParameterValue", "Version must be 2011-06-15")
        role = self.roles.get(params.get("RoleArn"))
        if call["action"] == "AssumeRole":
            ok, reason, key_id, region, service = verify(
                request.method, request.path, request.headers, request.body,
                lambda key: self.identities.get(key, (None,))[0])
            call.update(signed_by=key_id, region=region, service=service)
            if not ok:
                return error(403, "SignatureDoesNotMatch", reason)
            if service != "sts":
                return error(403, "SignatureDoesNotMatch", "signed for service %s" % service)
            if self.identities[key_id][1] != call["token"]:
                return error(403, "InvalidClientTokenId", "the security token is not valid")
            if role is None or (role["trusted"] is not None and key_id not in role["trusted"]):
                return error(403, "AccessDenied", "User %s is not authorized to perform: "
                             "sts:AssumeRole on resource: %s" % (key_id, params.get("RoleArn")))
        elif call["action"] == "AssumeRoleWithWebIdentity":
            if request.header("Authorization") is not None:
                return error(400, "InvalidRequest", "AssumeRoleWithWebIdentity is not signed")
            if role is None or role["web_identity_token"] is None:
                return error(403, "AccessDenied", "Not authorized to perform "
                             "sts:AssumeRoleWithWebIdentity")
            if params.get("WebIdentityToken") != role["web_identity_token"]:
                return error(400, "InvalidIdentityToken", "the token is not valid")
        else:
            return error(400, "InvalidAction", "unknown action %r" % call["action"])
        if not params.get("RoleSessionName"):
            return error(400, "ValidationError", "RoleSessionName is required")
        access_key_id, secret, token, _ = role["credentials"]
        self.identities[access_key_id] = (secret, token)
        return _sts_credentials(call["action"], role["credentials"], params["RoleArn"],
                                params["RoleSessionName"])


class FakeSSOPortal(FakeServer):
    """The IAM Identity Center portal's GetRoleCredentials:
    GET /federation/credentials?account_id=..&role_name=.. with x-amz-sso_bearer_token."""

    def __init__(self):
        super().__init__()
        self.grants = {}  # (access token, account id, role name) -> credentials

    def grant(self, access_token, account_id, role_name, credentials, expiration_ms=None):
        """credentials: (access key id, secret, session token)."""
        with self._lock:
            self.grants[(access_token, account_id, role_name)] = (
                tuple(credentials), expiration_ms or 4102444800000)

    def handle(self, request):
        path, _, query = request.path.partition("?")
        params = dict(urllib.parse.parse_qsl(query))

        def error(status, kind, message):
            return (status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", kind)],
                    json.dumps({"message": message}))

        if request.method != "GET" or path != "/federation/credentials":
            return error(404, "NotFoundException", "no such operation")
        token = request.header("x-amz-sso_bearer_token")
        if token is None or not any(key[0] == token for key in self.grants):
            return error(401, "UnauthorizedException", "Session token not found or invalid")
        grant = self.grants.get((token, params.get("account_id"), params.get("role_name")))
        if grant is None:
            return error(403, "ForbiddenException", "No access")
        (access_key_id, secret, session_token), expiration = grant
        return 200, [("Content-Type", "application/json")], json.dumps({"roleCredentials": {
            "accessKeyId": access_key_id, "secretAccessKey": secret,
            "sessionToken": session_token, "expiration": expiration}})


class FakeSSOOIDC(FakeServer):
    """SSO OIDC's CreateToken (POST /token, JSON, unsigned) for the refresh_token grant: a
    refresh token registered with `allow` is traded once for a new access token (and a new
    refresh token when `rotate`); anything else is AWS's 400 InvalidGrantException."""

    def __init__(self):
        super().__init__()
        self.grants = {}  # (client id, client secret, refresh token) -> (access, refresh, ttl)
        self.calls = []

    def allow(self, client_id, client_secret, refresh_token, access_token, expires_in=28800,
              new_refresh_token=None):
        with self._lock:
            self.grants[(client_id, client_secret, refresh_token)] = (
                access_token, new_refresh_token, expires_in)

    def handle(self, request):
        try:
            body = json.loads(request.body.decode("utf-8"))
        except ValueError:
            body = None
        self.calls.append({"path": request.path, "body": body,
                           "content_type": request.header("Content-Type"),
                           "signed": request.header("Authorization") is not None})
        if request.method != "POST" or request.path != "/token" or not isinstance(body, dict):
            return 400, [("x-amzn-ErrorType", "InvalidRequestException")], json.dumps(
                {"error": "invalid_request", "error_description": "expected POST /token"})
        key = (body.get("clientId"), body.get("clientSecret"), body.get("refreshToken"))
        grant = self.grants.pop(key, None)
        if body.get("grantType") != "refresh_token" or grant is None:
            return 400, [("Content-Type", "application/json"),
                         ("x-amzn-ErrorType", "InvalidGrantException")], json.dumps(
                {"error": "invalid_grant", "error_description": "Invalid refresh token"})
        access_token, refresh_token, expires_in = grant
        answer = {"accessToken": access_token, "tokenType": "Bearer", "expiresIn": expires_in}
        if refresh_token:
            answer["refreshToken"] = refresh_token
        return 200, [("Content-Type", "application/json")], json.dumps(answer)


class FakeProxy(FakeServer):
    """An HTTP proxy that forwards nothing: it records each request (an absolute-form target
    for http, CONNECT host:port for https) and answers it with `status` and `body`."""

    def __init__(self, status=200, body=b"from the proxy"):
        super().__init__()
        self.status = status
        self.body = body

    def handle(self, request):
        return self.status, [], self.body


class FakeContainerEndpoint(FakeServer):
    """The ECS / EKS Pod Identity credentials endpoint: GET `path`, Authorization checked."""

    def __init__(self, path, credentials, authorization=None, expiration=None):
        super().__init__()
        self.path = path
        self.credentials = tuple(credentials)
        self.authorization = authorization
        self.expiration = expiration or expiration_in(3600)

    def handle(self, request):
        if request.method != "GET" or request.path != self.path:
            return 404, [], b""
        if self.authorization is not None and request.header("Authorization") != \
                self.authorization:
            return (401, [("Content-Type", "application/json")],
                    json.dumps({"code": "AccessDenied", "message": "bad authorization token"}))
        access_key_id, secret, token = self.credentials
        return 200, [("Content-Type", "application/json")], json.dumps({
            "AccessKeyId": access_key_id, "SecretAccessKey": secret, "Token": token,
            "Expiration": self.expiration, "RoleArn": "arn:aws:iam::123456789012:role/task"})


class FakeIMDS(FakeServer):
    """EC2 instance metadata. token_status: what PUT /latest/api/token answers (200 issues a
    token, which the GETs then require; 403/404/405 as an IMDSv1-only service)."""

    TOKEN = "imds-session-token-0123456789"
    CREDENTIALS_PATH = "/latest/meta-data/iam/security-credentials/"

    def __init__(self, role, credentials, token_status=200, expiration=None):
        super().__init__()
        self.role = role
        self.credentials = tuple(credentials)
        self.token_status = token_status
        self.expiration = expiration or expiration_in(3600)

    def handle(self, request):
        if request.path == "/latest/api/token":
            if request.method != "PUT":
                return 405, [], b""
            if self.token_status != 200:
                return self.token_status, [], b""
            if not (request.header("X-aws-ec2-metadata-token-ttl-seconds") or "").isdigit():
                return 400, [], b"missing or bad X-aws-ec2-metadata-token-ttl-seconds"
            return 200, [("X-aws-ec2-metadata-token-ttl-seconds", "21600")], self.TOKEN
        if request.method != "GET":
            return 405, [], b""
        if self.token_status == 200 and request.header("X-aws-ec2-metadata-token") != self.TOKEN:
            return 401, [], b""
        if request.path == self.CREDENTIALS_PATH:
            return 200, [("Content-Type", "text/plain")], self.role
        if request.path == self.CREDENTIALS_PATH + self.role:
            access_key_id, secret, token = self.credentials
            return 200, [("Content-Type", "text/plain")], json.dumps({
                "Code": "Success", "LastUpdated": expiration_in(-60), "Type": "AWS-HMAC",
                "AccessKeyId": access_key_id, "SecretAccessKey": secret, "Token": token,
                "Expiration": self.expiration})
        return 404, [], b""


def unused_port():
    """A loopback port nothing listens on (for "connection refused")."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- running lua/aws_probe.lua --

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lua", "aws_probe.lua")


class AwsProbeCase(ScratchTestCase):
    """Runs lambda.aws in the real binary through lua/aws_probe.lua, with a private HOME and
    only the environment a test gives (plus AWS_EC2_METADATA_DISABLED=true unless the test
    sets it, so that nothing reaches for 169.254.169.254). Secrets made with self.secret()
    are looked for in the output of every failing call: they must never show."""

    def setUp(self):
        super().setUp()
        self.secrets = []

    def secret(self, label):
        value = "%s-%s" % (label, uuid.uuid4().hex)
        self.secrets.append(value)
        return value

    def home_file(self, relative, text):
        path = os.path.join(self.home, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as out:
            out.write(text)
        return path

    def probe(self, spec, env):
        environment = {"AWS_EC2_METADATA_DISABLED": "true"}
        environment.update(env or {})
        result = self.cli("run", PROBE, json.dumps(spec), env=self.env(**environment))
        self.assertExit(result, 0)
        out = json.loads(result.stdout)
        self.assertFalse(out.pop("globals"), "lambda.aws left globals behind")
        return out, result

    def resolve(self, env=None, **options):
        """aws.resolve(options), which must succeed; returns the settings."""
        out, _ = self.probe({"call": "resolve", "options": options}, env)
        self.assertTrue(out["ok"], "resolve failed: %s" % out.get("message"))
        return out["settings"]

    def resolve_error(self, env=None, **options):
        """aws.resolve(options), which must fail; returns the message after checking that it
        is one line and that no secret shows anywhere in the output."""
        out, result = self.probe({"call": "resolve", "options": options}, env)
        self.assertFalse(out["ok"], "resolve succeeded: %r" % out.get("settings"))
        message = out["message"]
        self.assertNotIn("\n", message)
        # Every failure has a kind of the library's set (docs/scripting.md, "Errors").
        self.assertIn(out["kind"], ("input", "not_found", "transport", "timeout", "tls",
                                    "service", "io", "too_large"), message)
        self.last = out
        self.assertNoSecrets(result.stdout + result.stderr)
        return message

    def assertNoSecrets(self, data):
        if isinstance(data, str):
            data = data.encode()
        for value in self.secrets:
            self.assertNotIn(value.encode(), data)

    def assertKeys(self, credentials, access_key_id, secret, token=None, source=None):
        self.assertEqual(credentials["access_key_id"], access_key_id)
        self.assertEqual(credentials["secret_access_key"], secret)
        self.assertEqual(credentials.get("session_token"), token)
        if source is not None:
            self.assertEqual(credentials["source"], source)
