"""Throw-away certificates for the TLS tests, made with the openssl command line.

make_certs(directory) writes a CA, a server certificate for localhost, 127.0.0.1 and ::1
signed by it, a client certificate signed by it, and an unrelated CA (for the verification
failure case), all with P-256 keys, which take milliseconds to generate.
"""

import os
import subprocess

__all__ = ["make_certs"]

# Our own minimal configuration, so the result does not depend on the system's openssl.cnf.
_CONFIG = """\
[req]
distinguished_name = dn
prompt = no

[dn]
CN = unused

[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""

_KEY_OPTIONS = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
_DAYS = "2"


def _openssl(*args):
    result = subprocess.run(["openssl", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if result.returncode != 0:
        raise RuntimeError("openssl %s failed:\n%s" % (args[0], result.stderr.decode(
            errors="replace")))


def _make_ca(config, directory, name, subject):
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    _openssl("req", "-config", config, "-x509", *_KEY_OPTIONS, "-keyout", key, "-out", cert,
             "-subj", subject, "-days", _DAYS, "-extensions", "ca")
    return cert, key


def _make_signed(config, directory, name, subject, extensions, ca_cert, ca_key):
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    request = os.path.join(directory, name + ".csr")
    _openssl("req", "-config", config, "-new", *_KEY_OPTIONS, "-keyout", key, "-out", request,
             "-subj", subject)
    _openssl("x509", "-req", "-in", request, "-CA", ca_cert, "-CAkey", ca_key,
             "-set_serial", "0x" + os.urandom(8).hex(), "-days", _DAYS,
             "-extfile", config, "-extensions", extensions, "-out", cert)
    os.remove(request)
    return cert, key


def make_certs(directory):
    """Writes the certificates into directory (which must exist) and returns their paths:
    ca, ca_key, server_cert, server_key, client_cert, client_key, other_ca, other_ca_key."""
    config = os.path.join(directory, "openssl.cnf")
    with open(config, "w") as out:
        out.write(_CONFIG)
    ca, ca_key = _make_ca(config, directory, "ca", "/CN=cargo-lambda test CA")
    other_ca, other_ca_key = _make_ca(config, directory, "other-ca",
                                      "/CN=cargo-lambda unrelated CA")
    server_cert, server_key = _make_signed(config, directory, "server", "/CN=localhost",
                                           "server", ca, ca_key)
    client_cert, client_key = _make_signed(config, directory, "client",
                                           "/CN=cargo-lambda test client", "client", ca, ca_key)
    return {
        "ca": ca,
        "ca_key": ca_key,
        "server_cert": server_cert,
        "server_key": server_key,
        "client_cert": client_cert,
        "client_key": client_key,
        "other_ca": other_ca,
        "other_ca_key": other_ca_key,
    }
