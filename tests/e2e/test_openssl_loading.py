"""OpenSSL, expat and libm are loaded on first use (src/common/openssl.c, src/xml/expat.c,
src/host/lazy_libm.c): the binary does not link libcrypto, libssl, libevent_openssl, libexpat
or libm, a local invoke never maps them, and the first digest, signature, https server, XML
document or math function loads what it needs. When a library cannot be loaded, the call that
needed it says so in one line ("cannot load libcrypto: ...") and everything else still works
(a math function has no failure result: the program ends with status 70, saying so).
libevent_core is linked statically, and libevent_openssl, loaded on first use, calls the
binary's copy of it."""

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
import unittest

from certs import make_certs
from harness import BIN, ScratchTestCase
from testserver import TestServer

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, "lua", "openssl_probe.lua")
OPENSSL_LIBRARIES = ("libcrypto", "libssl", "libevent_openssl")


def sanitized():
    """A sanitizer build: its runtime (libasan, libubsan) links libm, so libm is always there."""
    if not shutil.which("ldd"):
        return False
    listed = subprocess.run(["ldd", BIN], capture_output=True, text=True).stdout
    return "libasan" in listed or "libubsan" in listed


SANITIZED = sanitized()
LAZY_LIBRARIES = OPENSSL_LIBRARIES + ("libexpat",) + (() if SANITIZED else ("libm",))
skip_if_sanitized = unittest.skipIf(SANITIZED, "the sanitizer runtime links libm")
# The names the binary loads, from the build (tests/tests.cmake).
SONAMES = {
    "libcrypto": os.environ.get("CLC_LIBCRYPTO_SONAME"),
    "libssl": os.environ.get("CLC_LIBSSL_SONAME"),
    "libevent_openssl": os.environ.get("CLC_LIBEVENT_OPENSSL_SONAME"),
    "libexpat": os.environ.get("CLC_LIBEXPAT_SONAME"),
    "libm": "libm.so.6",  # glibc's LIBM_SO, the name src/host/lazy_libm.c loads
}
# How each library's file name shows in /proc/PID/maps and in ldd's list.
FILE_NAMES = {name: "/libm.so" if name == "libm" else name
              for name in LAZY_LIBRARIES + ("libcurl",)}


def mapped_libraries(maps):
    return {name for name, file in FILE_NAMES.items() if file in maps}


class LinkTests(unittest.TestCase):
    def test_the_binary_links_none_of_them(self):
        if not shutil.which("ldd"):
            self.skipTest("ldd is not installed")
        listed = subprocess.run(["ldd", BIN], capture_output=True, text=True, check=True).stdout
        self.assertIn("libc.so", listed)  # ldd did list the libraries
        for name in LAZY_LIBRARIES + ("libevent_core", "liblua"):
            self.assertNotIn(FILE_NAMES.get(name, name), listed)


class LocalInvokeTests(ScratchTestCase):
    def test_a_local_invoke_maps_none_of_them(self):
        """The server reads the invoke's /proc/PID/maps while the invoke waits for its answer,
        after everything it does before sending has been done."""
        started = threading.Event()
        process = {}
        seen = {}

        def gate(request):
            if started.wait(10):
                with open("/proc/%d/maps" % process["pid"]) as maps:
                    seen["maps"] = maps.read()
            return 200, {}, b'{"ok":true}'

        with TestServer() as server:
            server.set_gate(gate)
            invoke = subprocess.Popen(
                [BIN, "invoke", "--invoke-address", "127.0.0.1", "-P", str(server.port),
                 "-A", '{"n": 1}', "f"],
                env=self.env(), cwd=self.scratch, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            process["pid"] = invoke.pid
            started.set()
            stdout, stderr = invoke.communicate(timeout=60)
        self.assertEqual(invoke.returncode, 0, stderr)
        self.assertEqual(stdout, b'{"ok":true}\n')
        self.assertIn("libc.so", seen["maps"])  # the maps of the right process
        self.assertEqual(mapped_libraries(seen["maps"]), set())


class ProbeTestCase(ScratchTestCase):
    def probe(self, *args, env=None):
        result = self.cli("run", PROBE, *args, env=env)
        self.assertExit(result, 0)
        return json.loads(result.stdout)

    def loaded(self, out):
        return {name for name in LAZY_LIBRARIES if out[name]}


class FirstUseTests(ProbeTestCase):
    def test_requiring_the_modules_loads_nothing(self):
        out = self.probe("require")
        self.assertEqual(out["result"], True)
        self.assertEqual(self.loaded(out), set())

    def test_a_digest_loads_libcrypto_only(self):
        out = self.probe("digest")
        self.assertEqual(out["result"],
                         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        self.assertEqual(self.loaded(out), {"libcrypto"})

    def test_random_bytes_load_libcrypto_only(self):
        out = self.probe("random")
        self.assertEqual(out["result"], 8)
        self.assertEqual(self.loaded(out), {"libcrypto"})

    def test_a_signature_loads_libcrypto_only(self):
        out = self.probe("sign")
        self.assertRegex(out["result"], "^[0-9a-f]{64}$")
        self.assertEqual(self.loaded(out), {"libcrypto"})

    def test_an_https_server_loads_libssl_and_libevent_openssl(self):
        certs = make_certs(self.scratch)
        out = self.probe("https", certs["server_cert"], certs["server_key"])
        self.assertEqual(out.get("result"), True, out)
        self.assertEqual(self.loaded(out), set(OPENSSL_LIBRARIES))

    def test_libevent_openssl_calls_the_binarys_libevent(self):
        """Two copies of libevent's state (the binary's, and the shared libevent_core that
        libevent_openssl names as its dependency) must never meet: every libevent function and
        global libevent_openssl uses binds to the binary (all bound at load: LD_BIND_NOW)."""
        certs = make_certs(self.scratch)
        trace = os.path.join(self.scratch, "bindings")
        env = dict(self.env(), LD_DEBUG="bindings", LD_DEBUG_OUTPUT=trace, LD_BIND_NOW="1")
        out = self.probe("https", certs["server_cert"], certs["server_key"], env=env)
        self.assertEqual(out.get("result"), True, out)
        lines = []
        for name in os.listdir(self.scratch):
            if name.startswith("bindings"):
                with open(os.path.join(self.scratch, name)) as f:
                    lines += [line for line in f if "binding file" in line
                              and re.search(r"libevent_openssl[^ ]* \[", line)]
        to_binary = [line for line in lines if "to %s [" % BIN in line]
        symbols = {re.search(r"symbol `([^']+)'", line).group(1) for line in to_binary}
        for needed in ("bufferevent_init_common_", "event_add", "evthread_lock_fns_"):
            self.assertIn(needed, symbols)
        self.assertEqual([line for line in lines if "libevent_core" in line.split(" to ")[1]], [])

    def test_an_xml_document_loads_libexpat_only(self):
        out = self.probe("xml")
        self.assertEqual(out["result"], "123456789012")
        self.assertEqual(self.loaded(out), {"libexpat"})

    @skip_if_sanitized
    def test_math_loads_libm_only_and_gives_libms_results(self):
        """Every forwarded function, against this Python's (the same libm: equal to the bit)."""
        out = self.probe("math")
        self.assertEqual(self.loaded(out), {"libm"})
        x, y, z = 0.375, -2.5, 7.25
        mantissa, exponent = math.frexp(1234.5)
        expected = {
            "acos": math.acos(x), "asin": math.asin(x), "atan2": math.atan2(x, y),
            "cos": math.cos(x), "cosh": math.cosh(x), "exp": math.exp(x),
            "fmod": math.fmod(z, y), "mod": z % y, "ldexp": math.ldexp(x, 9),
            "log": math.log(x), "log10": math.log10(x), "log2": math.log2(x),
            "pow": x ** -y, "sin": math.sin(x), "sinh": math.sinh(x), "sqrt": math.sqrt(x),
            "tan": math.tan(x), "tanh": math.tanh(x),
        }
        expected = {name: "%.17g" % value for name, value in expected.items()}
        expected["frexp"] = "%.17g %d" % (mantissa, exponent)
        self.assertEqual(out["result"], expected)


class MissingLibraryTests(ProbeTestCase):
    """A library that cannot be loaded: a file that is not one, found first through
    LD_LIBRARY_PATH under the name the binary loads."""

    def env_without(self, *names):
        for name in names:
            if not SONAMES[name]:
                self.skipTest("CLC_*_SONAME is not set (run through ctest)")
        directory = os.path.join(self.scratch, "broken-libraries")
        os.makedirs(directory, exist_ok=True)
        for name in names:
            with open(os.path.join(directory, SONAMES[name]), "w") as broken:
                broken.write("not a library\n")
        return self.env(LD_LIBRARY_PATH=directory)

    def assertCannotLoad(self, out, name):
        """The call returned nil, "cannot load NAME: ...", "io": this machine's failure."""
        message = out["error"]
        self.assertRegex(message, "^cannot load %s: .*%s" % (name, re.escape(SONAMES[name])))
        self.assertNotIn("\n", message)
        self.assertEqual(out.get("kind"), "io", out)

    def test_without_libcrypto_calls_that_need_it_say_so(self):
        env = self.env_without("libcrypto")
        out = self.probe("random", env=env)
        self.assertIsNone(out.get("result"))
        self.assertCannotLoad(out, "libcrypto")
        out = self.probe("sign", env=env)
        self.assertIsNone(out.get("result"))
        self.assertCannotLoad(out, "libcrypto")
        # A digest has no failure result: it raises, as when OpenSSL fails.
        out = self.probe("digest", env=env)
        self.assertIn("cannot load libcrypto: ", out["raised"])
        self.assertEqual(self.loaded(self.probe("require", env=env)), set())

    def test_without_libssl_or_libevent_openssl_an_https_server_says_so(self):
        certs = make_certs(self.scratch)
        for name in ("libssl", "libevent_openssl"):
            with self.subTest(name):
                out = self.probe("https", certs["server_cert"], certs["server_key"],
                                 env=self.env_without(name))
                self.assertIsNone(out.get("result"))
                self.assertCannotLoad(out, name)
                shutil.rmtree(os.path.join(self.scratch, "broken-libraries"))

    def test_without_libexpat_xml_decode_says_so(self):
        env = self.env_without("libexpat")
        out = self.probe("xml", env=env)
        self.assertIsNone(out.get("result"))
        self.assertCannotLoad(out, "libexpat")
        # Once: the second call answers the same without trying again.
        self.assertEqual(out.get("second_error"), out["error"])

    @skip_if_sanitized
    def test_without_libm_a_math_function_ends_the_program_saying_so(self):
        result = self.cli("run", PROBE, "math", env=self.env_without("libm"))
        self.assertExit(result, 70)
        self.assertEqual(result.stdout, b"")
        lines = result.stderr.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], "^cargo-lambda: cannot load libm: .*libm.so.6")

    def test_a_local_invoke_works_without_any_of_them(self):
        env = self.env_without(*LAZY_LIBRARIES)
        with TestServer() as server:
            server.respond(200, body=b'{"ok":true}')
            result = self.cli("invoke", "--invoke-address", "127.0.0.1", "-P", str(server.port),
                              "-A", "{}", "f", env=env)
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b'{"ok":true}\n')


if __name__ == "__main__":
    unittest.main()
