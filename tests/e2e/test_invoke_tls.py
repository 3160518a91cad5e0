"""`invoke` over https with a client certificate: flags and the config-directory fallback."""

import os
import shutil
import unittest

from certs import make_certs
from harness import ScratchTestCase
from testserver import TestServer

INVOKE_PATH = "/2015-03-31/functions/%s/invocations"


class InvokeTls(ScratchTestCase):
    def setUp(self):
        super().setUp()
        os.makedirs(os.path.join(self.scratch, "certs"))
        self.certs = make_certs(os.path.join(self.scratch, "certs"))
        self.server = TestServer(host="127.0.0.1", tls={
            "certfile": self.certs["server_cert"],
            "keyfile": self.certs["server_key"],
            "cafile": self.certs["ca"],
            "require_client_cert": True,
        })
        self.server.__enter__()
        self.addCleanup(self.server.__exit__, None, None, None)

    def invoke(self, *args, env=None):
        return self.cli("invoke", "--invoke-address", "localhost", "-P", str(self.server.port),
                        "-A", '{"tls":1}', *args, env=env)

    def test_client_certificate_from_flags(self):
        self.server.respond(200, body=b"secure")
        result = self.invoke("--tls-cert", self.certs["client_cert"], "--tls-key",
                             self.certs["client_key"], "--tls-ca", self.certs["ca"])
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"secure\n")
        request = self.server.requests[0]
        self.assertEqual(request.path, INVOKE_PATH % "_")
        self.assertEqual(request.body, b'{"tls":1}')
        self.assertIsNotNone(request.client_cert)

    def test_config_directory_fallback(self):
        config = os.path.join(self.scratch, "xdg-config", "cargo-lambda")
        os.makedirs(config)
        shutil.copy(self.certs["client_cert"], os.path.join(config, "cert.pem"))
        shutil.copy(self.certs["client_key"], os.path.join(config, "key.pem"))
        shutil.copy(self.certs["ca"], os.path.join(config, "ca.pem"))
        self.server.respond(200, body=b"from config")
        env = self.env(XDG_CONFIG_HOME=os.path.join(self.scratch, "xdg-config"))
        result = self.invoke(env=env)
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"from config\n")
        # The same files under ~/.config/cargo-lambda work when XDG_CONFIG_HOME is unset.
        shutil.move(os.path.join(self.scratch, "xdg-config"), os.path.join(self.home, ".config"))
        self.assertExit(self.invoke(), 0)

    def test_untrusted_server_is_a_transport_error(self):
        result = self.invoke("--tls-cert", self.certs["client_cert"], "--tls-key",
                             self.certs["client_key"], "--tls-ca", self.certs["other_ca"])
        self.assertExit(result, 3)
        self.assertOneLineError(result, "https://localhost:%d" % self.server.port)
        self.assertEqual(self.server.requests, [])

    def test_certificate_without_key(self):
        result = self.invoke("--tls-cert", self.certs["client_cert"])
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--tls-cert", "--tls-key")

    def test_missing_certificate_file(self):
        result = self.invoke("--tls-cert", "/nonexistent/cert.pem", "--tls-key",
                             self.certs["client_key"])
        self.assertExit(result, 2)
        self.assertOneLineError(result, "--tls-cert", "/nonexistent/cert.pem")


if __name__ == "__main__":
    unittest.main()
