"""A fake Lambda Invoke endpoint on loopback: every request's SigV4 signature is checked
(from the client's own SignedHeaders list, with an independent Python implementation) before
the scripted answer is sent; a bad signature gets Lambda's 403 InvalidSignatureException."""

import json

from sigv4_verify import verify
from testserver import TestServer

ACCESS_KEY = "AKIDFAKELAMBDATEST01"
SECRET_KEY = "fakeSecretKeyForTheLambdaEndpoint/0123456789"
SESSION_TOKEN = "FakeSessionTokenValue//with+chars=="


class FakeLambda(TestServer):
    def __init__(self, host="127.0.0.1", secrets=None):
        super().__init__(host=host)
        self.secrets = dict(secrets or {ACCESS_KEY: SECRET_KEY})
        self.verdicts = []
        self.set_gate(self._check_signature)

    def _check_signature(self, request):
        ok, reason, key_id, region, service = verify(
            request.method, request.path, request.headers, request.body, self.secrets.get)
        self.verdicts.append((ok, reason, key_id, region, service))
        if ok and service == "lambda":
            return None
        body = json.dumps({"Type": "User", "message": "signature rejected: %s" % reason})
        return (403, [("x-amzn-ErrorType", "InvalidSignatureException")], body)

    def respond_json(self, status, value, headers=None):
        self.respond(status, headers=headers, body=json.dumps(value).encode())

    def respond_service_error(self, status, error_type, message, headers=None):
        all_headers = [("x-amzn-ErrorType", error_type)] + list(headers or [])
        self.respond(status, headers=all_headers,
                     body=json.dumps({"Type": "User", "Message": message}).encode())
