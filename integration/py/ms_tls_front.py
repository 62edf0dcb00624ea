"""A TLS front for the Microsoft identity platform stand-in (integration/microsoft_standin.rs).

MSAL Python and azure-identity refuse authorities that are not https, while the stand-in
speaks plain HTTP on loopback (tfauth talks to it that way). This script puts TLS in front:
it makes a throwaway CA and a server certificate for 127.0.0.1 / localhost (with the venv's
`cryptography`), listens on a free loopback port, and relays each request on a TLS connection,
byte for byte, to the stand-in's plain port, and the answer back. Nothing is rewritten: the stand-in learns that a request came
through the front from the `Host` header (it knows the front's port) and answers with
https URLs pointing back at the front.

    python ms_tls_front.py UPSTREAM_PORT DIR

writes DIR/ca.pem (the bundle clients trust: MSAL's `verify=`, azure-core's
`connection_verify=`, or REQUESTS_CA_BUNDLE), DIR/server.pem and DIR/server.key, then
prints one JSON line {"port": N, "ca": "DIR/ca.pem"} and serves until stdin closes (the
test that started it dropped its handle) or it is killed.
"""

import datetime
import ipaddress
import json
import os
import socket
import ssl
import sys
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def make_certificates(directory):
    """A CA (basicConstraints critical, key identifiers: what strict X.509 checks want) and a
    leaf it signed for IP 127.0.0.1 and DNS localhost. Returns (ca, cert, key) paths."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tfauth test CA (Entra stand-in)")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = [os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(leaf.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return paths


def read_request(tls):
    """One HTTP/1.1 request from the client: the head, then Content-Length bytes of body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = tls.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or 0)
    while len(body) < length:
        chunk = tls.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def serve_one(raw, context, upstream_port):
    """Relays one request and its answer. Strictly in turn, on one thread: an SSL socket
    must not be read and written from two threads at once. The stand-in answers one request
    per connection (`Connection: close`), so its end of file ends the exchange."""
    try:
        raw.settimeout(30)
        tls = context.wrap_socket(raw, server_side=True)
    except (OSError, ssl.SSLError):
        raw.close()
        return
    up = None
    try:
        request = read_request(tls)
        if request:
            up = socket.create_connection(("127.0.0.1", upstream_port), timeout=30)
            up.sendall(request)
            while True:
                data = up.recv(65536)
                if not data:
                    break
                tls.sendall(data)
    except (OSError, ssl.SSLError):
        pass
    for s in (tls, up):
        if s is not None:
            try:
                s.close()
            except OSError:
                pass


def main():
    upstream_port, directory = int(sys.argv[1]), sys.argv[2]
    ca, cert, key = make_certificates(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)

    def accept_loop():
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=serve_one, args=(conn, context, upstream_port), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    print(json.dumps({"port": listener.getsockname()[1], "ca": ca}), flush=True)
    # Serve until whoever started us closes our stdin (or kills us).
    sys.stdin.read()


if __name__ == "__main__":
    main()
