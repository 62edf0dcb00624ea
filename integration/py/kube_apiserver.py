"""A loopback stand-in for an EKS cluster: its API server (HTTPS, a CA of its own) and,
in front of moto, the EKS API that describes it.

The API server authenticates bearer tokens the way aws-iam-authenticator does
(pkg/token/token.go, Verify): the token is `k8s-aws-v1.` + base64url of a presigned STS
URL; the host must be the expected STS host, the path `/`, the action GetCallerIdentity
(version 2011-06-15), `X-Amz-SignedHeaders` must cover `x-k8s-aws-id`, whose value (sent
beside the URL as the authenticator does) must be this cluster's name, and `X-Amz-Date`
must be at most 15 minutes old (`X-Amz-Expires` is not trusted, as upstream). Upstream
then calls the URL and STS checks the signature; moto does not check signatures, so this
stand-in recomputes the SigV4 query signature with botocore for the access key (whose
secret the test hands over in `--creds`) and only then asks moto who the key belongs to.
Discovery is open to every authenticated caller; namespaces only to an ARN that
contains `--allow` (403 otherwise, as RBAC would answer).

The EKS front answers the EKS API by forwarding every request to moto unchanged, and
rewrites DescribeCluster's `endpoint` and `certificateAuthority.data` of `--cluster` to
this API server's.

Every cluster EKS describes is given this API server (which accepts only --cluster's
tokens), so a kubeconfig for another cluster reaches it with a token it must refuse.

Usage: kube_apiserver.py --moto URL --cluster NAME --allow TEXT --creds FILE --dir DIR
Writes DIR/ready.json ({"api": URL, "eks": URL, "ca": PATH}) when listening. Every
authentication decision is appended to DIR/auth.log as one JSON line.
Control: POST /__clock?offset=SECONDS on the EKS front moves this server's clock.

Two more modes, for GKE and AKS clusters, authenticate against the Google and Entra
stand-ins instead (no --moto, --creds or --cluster, no EKS front; ready.json then has
"api" and "ca" only):

  kube_apiserver.py --google-tokeninfo URL --allow TEXT --dir DIR
      A bearer token is a Google access token: GET URL?access_token=T (the Google stand-in's
      tokeninfo) must answer 200; the user is its `email` (a federated token, which has none,
      is its `sub`, `principal://...`, as GKE names such principals).
  kube_apiserver.py --entra-introspect URL --server-id GUID [--tenant-id T] --allow TEXT --dir DIR
      A bearer token is an Entra access token: GET URL?token=T (the Entra stand-in's
      /__introspect) must answer its claims; `aud` must be the server id (`GUID` or
      `spn:GUID`, both of which AKS accepts), `exp` in the future, `tid` --tenant-id when
      given. The user is the first of `upn`, `unique_name`, `oid`, `appid`.

In every mode a token is refused with 401 (a Status, as the API server answers), and
namespaces are only for a user containing --allow (403 otherwise); the auth.log lines have
the same keys (the user under "arn"; the new modes add "user" and "mode").
"""

import argparse
import base64
import datetime
import http.server
import json
import os
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import ipaddress

PREFIX = "k8s-aws-v1."
MAX_AGE = 15 * 60

state = {"offset": 0}
PINNED = threading.Lock()


def now():
    return time.time() + state["offset"]


def make_ca_and_cert(directory):
    """A CA and a server certificate for 127.0.0.1 and localhost, signed by it."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stand-in cluster CA")])
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    end = start + datetime.timedelta(days=30)
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    paths = {n: os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key")}
    with open(paths["ca.pem"], "wb") as f:
        f.write(ca_pem)
    with open(paths["server.pem"], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths["server.key"], "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return paths, ca_pem


class Verdict(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify(token, args):
    """The ARN of the token's session, or a Verdict saying why not."""
    if not token.startswith(PREFIX):
        raise Verdict(401, "not a k8s-aws-v1 token")
    try:
        url = b64url_decode(token[len(PREFIX) :]).decode()
    except Exception:
        raise Verdict(401, "the token is not base64url")
    parts = urllib.parse.urlsplit(url)
    if parts.netloc != args.sts_host or parts.scheme not in ("http", "https"):
        raise Verdict(401, f"unexpected STS host {parts.netloc!r}")
    if parts.path not in ("", "/"):
        raise Verdict(401, f"unexpected path {parts.path!r}")
    q = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    one = {k: v[0] for k, v in q.items()}
    if one.get("Action") != "GetCallerIdentity" or one.get("Version") != "2011-06-15":
        raise Verdict(401, "not GetCallerIdentity")
    signed = one.get("X-Amz-SignedHeaders", "").split(";")
    if "x-k8s-aws-id" not in signed or "host" not in signed:
        raise Verdict(401, "x-k8s-aws-id is not signed")
    try:
        date = datetime.datetime.strptime(one["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except Exception:
        raise Verdict(401, "no X-Amz-Date")
    age = now() - date.timestamp()
    if age > MAX_AGE or age < -MAX_AGE:
        raise Verdict(401, f"the token is {int(age)} s old (at most {MAX_AGE})")
    credential = one.get("X-Amz-Credential", "").split("/")
    if len(credential) != 5 or credential[3] != "sts" or credential[4] != "aws4_request":
        raise Verdict(401, "bad X-Amz-Credential")
    key_id, region = credential[0], credential[2]
    with open(args.creds) as f:
        known = json.load(f)
    if key_id not in known:
        raise Verdict(401, f"unknown access key {key_id}")
    # The cluster id travels in the header the signature covers: as the authenticator
    # sends it, this cluster's name.
    cluster = args.cluster
    # Recompute the signature with botocore over the same request.
    creds = botocore.credentials.Credentials(key_id, known[key_id]["secret"], known[key_id].get("token"))
    unsigned = [(k, v) for k, vs in q.items() for v in vs if k != "X-Amz-Signature"]
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/", "Action=GetCallerIdentity&Version=2011-06-15", ""))
    req = botocore.awsrequest.AWSRequest(method="GET", url=base, headers={"x-k8s-aws-id": cluster})
    signer = botocore.auth.SigV4QueryAuth(creds, "sts", region, expires=int(one.get("X-Amz-Expires", "60")))

    # botocore signs at its clock's time (botocore.auth.get_current_datetime); pin that
    # to the token's X-Amz-Date, so the same request is signed again.
    with PINNED:
        original = botocore.auth.get_current_datetime
        botocore.auth.get_current_datetime = lambda remove_tzinfo=True: date.replace(tzinfo=None)
        try:
            signer.add_auth(req)
        finally:
            botocore.auth.get_current_datetime = original
    want = urllib.parse.parse_qs(urllib.parse.urlsplit(req.url).query).get("X-Amz-Signature", [""])[0]
    if want != one.get("X-Amz-Signature"):
        raise Verdict(401, f"the signature does not match for cluster {cluster!r} (another cluster's token?)")
    if sorted(k for k, _ in unsigned) != sorted(
        k for k in urllib.parse.parse_qs(urllib.parse.urlsplit(req.url).query) if k != "X-Amz-Signature"
    ):
        raise Verdict(401, "unexpected query parameters")
    # The identity behind the key, from STS (moto), as the authenticator's call learns it.
    sts = boto3.client(
        "sts",
        endpoint_url=args.moto,
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=known[key_id]["secret"],
        aws_session_token=known[key_id].get("token"),
    )
    return sts.get_caller_identity()["Arn"]


def http_json(url):
    """GET url: (status, JSON body or None)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            status, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    except OSError as e:
        raise Verdict(401, f"the token service did not answer: {e}")
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def verify_google(token, args):
    """The Google account behind an access token, from tokeninfo, or a Verdict."""
    if not token:
        raise Verdict(401, "no bearer token")
    if token.startswith(PREFIX):
        raise Verdict(401, "an EKS token is not a Google access token")
    status, info = http_json(args.google_tokeninfo + "?" + urllib.parse.urlencode({"access_token": token}))
    if status != 200 or not isinstance(info, dict):
        error = info.get("error") if isinstance(info, dict) else None
        raise Verdict(401, f"tokeninfo refused the token ({status} {error})")
    if int(info.get("expires_in", "0") or 0) <= 0:
        raise Verdict(401, "the token has expired")
    user = info.get("email") or (info.get("sub") if str(info.get("sub", "")).startswith("principal://") else None)
    if not user:
        raise Verdict(401, "tokeninfo names no account")
    return user


def verify_entra(token, args):
    """The Entra principal behind an access token, from the stand-in's introspection, or a Verdict."""
    if not token:
        raise Verdict(401, "no bearer token")
    if token.startswith(PREFIX):
        raise Verdict(401, "an EKS token is not an Entra access token")
    status, claims = http_json(args.entra_introspect + "?" + urllib.parse.urlencode({"token": token}))
    if status != 200 or not isinstance(claims, dict):
        raise Verdict(401, f"introspection refused the token ({status})")
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if not any(a in (args.server_id, "spn:" + args.server_id) for a in auds):
        raise Verdict(401, f"the token is for audience {aud!r}, not {args.server_id!r}")
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now():
        raise Verdict(401, "the token has expired")
    if args.tenant_id and claims.get("tid") != args.tenant_id:
        raise Verdict(401, f"the token is from tenant {claims.get('tid')!r}, not {args.tenant_id!r}")
    for k in ("upn", "unique_name", "oid", "appid"):
        if claims.get(k):
            return claims[k]
    raise Verdict(401, "the token names no principal")


def authenticate(token, args):
    if args.mode == "google":
        return verify_google(token, args)
    if args.mode == "entra":
        return verify_entra(token, args)
    return verify(token, args)


def granted_name(user, args):
    """The namespace granted to the user: as it was for EKS; a DNS label of the user otherwise."""
    if args.mode == "eks":
        return "granted-to-" + user.split("/")[-2 if user.count("/") > 1 else -1]
    label = "".join(c if c.isalnum() else "-" for c in user.lower()).strip("-")
    return ("granted-to-" + label)[:63].rstrip("-")


def log(args, entry):
    if args.mode != "eks" and "arn" in entry:
        entry = dict(entry, user=entry["arn"], mode=args.mode)
    elif args.mode != "eks":
        entry = dict(entry, mode=args.mode)
    with open(os.path.join(args.dir, "auth.log"), "a") as f:
        f.write(json.dumps(entry) + "\n")


def api_handler(args):
    class Api(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, status, doc):
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            auth = self.headers.get("Authorization", "")
            token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
            try:
                arn = authenticate(token, args)
            except Verdict as v:
                log(args, {"path": self.path, "ok": False, "status": v.status, "reason": v.reason})
                reason = "Unauthorized" if v.status == 401 else "Forbidden"
                return self.reply(
                    v.status,
                    {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": v.reason, "reason": reason, "code": v.status},
                )
            path = urllib.parse.urlsplit(self.path).path
            # Discovery is every authenticated user's (system:discovery); the rest only
            # the authorized ARN's.
            if path not in ("/api", "/apis", "/api/v1", "/version") and args.allow not in arn:
                reason = f"{arn} is not authorized"
                log(args, {"path": self.path, "ok": False, "status": 403, "arn": arn, "reason": reason})
                return self.reply(
                    403,
                    {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": f"namespaces is forbidden: {reason}", "reason": "Forbidden", "code": 403},
                )
            log(args, {"path": self.path, "ok": True, "arn": arn})
            if path == "/api":
                return self.reply(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
            if path == "/apis":
                return self.reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
            if path == "/api/v1":
                return self.reply(
                    200,
                    {
                        "kind": "APIResourceList",
                        "groupVersion": "v1",
                        "resources": [
                            {"name": "namespaces", "singularName": "namespace", "namespaced": False, "kind": "Namespace", "verbs": ["get", "list"], "shortNames": ["ns"]}
                        ],
                    },
                )
            if path == "/api/v1/namespaces":
                items = [
                    {"metadata": {"name": n, "uid": n, "creationTimestamp": "2026-01-01T00:00:00Z"}, "status": {"phase": "Active"}}
                    for n in ("default", "kube-system", granted_name(arn, args))
                ]
                return self.reply(200, {"kind": "NamespaceList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items})
            if path == "/version":
                return self.reply(200, {"major": "1", "minor": "29", "gitVersion": "v1.29.0-standin"})
            return self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})

    return Api


def eks_handler(args, api_url, ca_pem):
    class Eks(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def forward(self, method):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if self.path.startswith("/__clock"):
                state["offset"] = float(urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["offset"][0])
                self.send_response(204)
                self.end_headers()
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
            req = urllib.request.Request(args.moto + self.path, data=body, method=method, headers=headers)
            try:
                with urllib.request.urlopen(req) as r:
                    status, out, got = r.status, r.read(), r.headers
            except urllib.error.HTTPError as e:
                status, out, got = e.code, e.read(), e.headers
            # moto's headers go back as they came (X-Amzn-ErrorType names an error).
            keep = [(k, v) for k, v in got.items() if k.lower() not in ("content-length", "connection", "server", "date", "transfer-encoding")]
            # Every cluster's API server is this one (which knows only --cluster's tokens).
            if method == "GET" and status == 200 and self.path.split("?")[0].startswith("/clusters/"):
                doc = json.loads(out)
                doc["cluster"]["endpoint"] = api_url
                doc["cluster"]["certificateAuthority"] = {"data": base64.b64encode(ca_pem).decode()}
                out = json.dumps(doc).encode()
            self.send_response(status)
            for k, v in keep:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def do_GET(self):
            self.forward("GET")

        def do_POST(self):
            self.forward("POST")

    return Eks


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--moto")
    p.add_argument("--cluster")
    p.add_argument("--allow", required=True)
    p.add_argument("--creds")
    p.add_argument("--dir", required=True)
    p.add_argument("--sts-host", default=None)
    p.add_argument("--google-tokeninfo", default=None)
    p.add_argument("--entra-introspect", default=None)
    p.add_argument("--server-id", default=None)
    p.add_argument("--tenant-id", default=None)
    args = p.parse_args()
    if args.google_tokeninfo and args.entra_introspect:
        p.error("--google-tokeninfo and --entra-introspect are two modes: give one")
    if args.google_tokeninfo:
        args.mode = "google"
    elif args.entra_introspect:
        args.mode = "entra"
        if not args.server_id:
            p.error("--entra-introspect needs --server-id")
    else:
        args.mode = "eks"
        missing = [f"--{n}" for n in ("moto", "cluster", "creds") if not getattr(args, n)]
        if missing:
            p.error("the EKS mode needs " + ", ".join(missing))
        args.sts_host = args.sts_host or urllib.parse.urlsplit(args.moto).netloc
    paths, ca_pem = make_ca_and_cert(args.dir)

    api = http.server.ThreadingHTTPServer(("127.0.0.1", 0), api_handler(args))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(paths["server.pem"], paths["server.key"])
    api.socket = ctx.wrap_socket(api.socket, server_side=True)
    api_url = f"https://127.0.0.1:{api.server_address[1]}"
    threading.Thread(target=api.serve_forever, daemon=True).start()
    doc = {"api": api_url, "ca": paths["ca.pem"]}
    if args.mode == "eks":
        eks = http.server.ThreadingHTTPServer(("127.0.0.1", 0), eks_handler(args, api_url, ca_pem))
        eks_url = f"http://127.0.0.1:{eks.server_address[1]}"
        threading.Thread(target=eks.serve_forever, daemon=True).start()
        doc = {"api": api_url, "eks": eks_url, "ca": paths["ca.pem"]}
    ready = os.path.join(args.dir, "ready.json")
    with open(ready + ".tmp", "w") as f:
        json.dump(doc, f)
    os.rename(ready + ".tmp", ready)
    threading.Event().wait()


if __name__ == "__main__":
    main()
