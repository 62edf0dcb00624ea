"""A loopback SAML 2.0 identity provider for the AWS SP, with an Okta-shaped and an
ADFS-shaped front (integration/saml_standin.rs starts it; integration/README.md says what
it speaks).

    python saml_idp.py CONFIG.json DIR

CONFIG names the users (password, MFA factors, push outcome, roles with their pair order,
RoleSessionName, SessionDuration) and the Okta app id. DIR receives the signing key and
certificate (`idp.key`, `idp.pem`), the IdP's metadata (`idp-metadata.xml`), AWS's SP
metadata as the IdP uses it (`sp-metadata.xml`) and the TLS CA (`ca.pem`). It prints one
JSON line {"http": PORT, "https": PORT, "ca": ..., "cert": ..., "metadata": ...} and
serves until stdin closes.

The responses are signed by pysaml2 (Response and Assertion, RSA-SHA256, with Debian's
xmlsec1): audience `urn:amazon:webservices`, Destination and Recipient
`https://signin.aws.amazon.com/saml`, NameID persistent.

With "moto_url" in CONFIG a third port ("sts" in the JSON line) is an STS front for moto:
`AssumeRoleWithSAML` is checked as AWS checks it (the signature against this IdP's metadata,
audience, Recipient, time window, the RoleArn/PrincipalArn pair among the Role values) and
then handed to moto with only that pair in the Role attribute (moto 5.2.5 answers 500 to
several); every other call is relayed to moto unchanged.

Test-only routes, never part of a real IdP: `GET /_bed/counts` (requests per operation),
`GET /_bed/issued` (every SAMLResponse issued, base64, with its user and front),
`GET /_bed/received` (every SAMLAssertion the STS front was sent, base64),
`GET /_bed/totp?username=U` (the user's current TOTP code), `POST /_bed/push`
({"username", "waiting_polls", "result"}: change a user's push outcome),
`GET /_bed/log` (operation, status and outcome of every request, no bodies).

It must not reach beyond loopback: every listener is 127.0.0.1.
"""

import base64
import datetime
import hashlib
import hmac
import html
import http.server
import json
import os
import secrets
import shutil
import ssl
import struct
import sys
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from ms_tls_front import make_certificates  # noqa: E402  (the suite's throwaway CA)

import warnings  # noqa: E402

# pysaml2 7.5 imports a cipher mode cryptography has moved; the warning is noise here.
warnings.filterwarnings("ignore", message=".*CFB has been moved.*")
from saml2 import BINDING_HTTP_POST, saml  # noqa: E402
from saml2.config import IdPConfig  # noqa: E402
from saml2.metadata import create_metadata_string  # noqa: E402
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID  # noqa: E402
from saml2.server import Server  # noqa: E402
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256  # noqa: E402

AWS_SP = "urn:amazon:webservices"
AWS_ACS = "https://signin.aws.amazon.com/saml"
ROLE_ATTR = "https://aws.amazon.com/SAML/Attributes/Role"
NAME_ATTR = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
DURATION_ATTR = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
PASSWORD_CLASS = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"

SP_METADATA = """<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:amazon:webservices">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAssertionsSigned="true">
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>
    <md:AssertionConsumerService index="1" isDefault="true" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://signin.aws.amazon.com/saml"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"""


# ---------------------------------------------------------------------------------------
# Keys, pysaml2


def make_signing_key(directory):
    """An RSA 2048 key and a self-signed certificate: what an IdP publishes in its metadata."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tfauth test SAML IdP")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = os.path.join(directory, "idp.key"), os.path.join(directory, "idp.pem")
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def make_server(directory, entity_id, key_path, cert_path):
    sp_path = os.path.join(directory, "sp-metadata.xml")
    with open(sp_path, "w") as f:
        f.write(SP_METADATA)
    xmlsec = shutil.which("xmlsec1")
    if not xmlsec:
        sys.exit("saml_idp.py: xmlsec1 is not installed (Debian package xmlsec1; integration/setup installs it)")
    conf = IdPConfig()
    conf.load({
        "entityid": entity_id,
        "xmlsec_binary": xmlsec,
        "key_file": key_path,
        "cert_file": cert_path,
        "metadata": {"local": [sp_path]},
        "service": {"idp": {
            "endpoints": {"single_sign_on_service": [(entity_id + "/sso", BINDING_HTTP_POST)]},
            "name_id_format": [NAMEID_FORMAT_PERSISTENT],
            "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": saml.NAME_FORMAT_URI}},
            "sign_response": True,
            "sign_assertion": True,
        }},
    })
    server = Server(config=conf)
    with open(os.path.join(directory, "idp-metadata.xml"), "wb") as f:
        md = create_metadata_string(None, config=conf, valid=48)
        f.write(md if isinstance(md, bytes) else md.encode())
    return server


# ---------------------------------------------------------------------------------------
# TOTP (RFC 6238, SHA-1, 30 s, 6 digits: what Google Authenticator and Okta Verify use)


def totp(secret_b32, at=None, step=30):
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def totp_ok(secret_b32, code):
    now = time.time()
    return any(hmac.compare_digest(totp(secret_b32, now + d), str(code)) for d in (-30, 0))


# ---------------------------------------------------------------------------------------
# State


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def okta_id(prefix):
    return prefix + secrets.token_hex(8)[:17]


class State:
    def __init__(self, config):
        self.lock = threading.Lock()
        self.app_id = config.get("okta_app_id", "0oa1samlbedaws272")
        self.users = {}
        for u in config["users"]:
            u = dict(u)
            u.setdefault("factors", [])
            u.setdefault("push", {"waiting_polls": 2, "result": "SUCCESS"})
            u["id"] = okta_id("00u")
            u["factor_ids"] = {f: okta_id({"totp": "ost", "push": "opf"}[f]) for f in u["factors"]}
            self.users[u["username"]] = u
        self.state_tokens = {}   # stateToken -> {"user", "push_polls", "expires"}
        self.session_tokens = {}  # one-time sessionToken -> username
        self.sessions = {}        # sid -> username
        self.adfs_auth = {}       # MSISAuth cookie -> username
        self.counts = {}
        self.log = []
        self.issued = []
        self.received = []        # SAMLAssertion of every AssumeRoleWithSAML the STS front got

    def count(self, op, status, outcome=""):
        with self.lock:
            self.counts[op] = self.counts.get(op, 0) + 1
            self.log.append({"op": op, "status": status, "outcome": outcome})


def role_values(user):
    out = []
    for r in user.get("roles", []):
        pair = [r["role"], r["principal"]]
        if r.get("order", "role,principal") == "principal,role":
            pair.reverse()
        out.append(",".join(pair))
    return out


def issue(idp, st, user, front):
    """A signed SAMLResponse (base64) for `user`, recorded in `st.issued`."""
    identity = {ROLE_ATTR: role_values(user), NAME_ATTR: [user.get("session_name", user["username"])]}
    if user.get("session_duration") is not None:
        identity[DURATION_ATTR] = [str(user["session_duration"])]
    resp = idp.create_authn_response(
        identity,
        in_response_to=None,
        destination=AWS_ACS,
        sp_entity_id=AWS_SP,
        name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=user["username"]),
        authn={"class_ref": PASSWORD_CLASS},
        sign_response=True,
        sign_assertion=True,
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    b64 = base64.b64encode(str(resp).encode()).decode()
    with st.lock:
        st.issued.append({"username": user["username"], "front": front, "saml_response": b64})
    return b64


def saml_post_page(b64, relay_state=None):
    """The auto-submitting form an IdP answers with: the browser posts it to AWS."""
    relay = ""
    if relay_state is not None:
        relay = f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}"/>'
    return (
        '<!DOCTYPE html><html><head><title>Working...</title></head>'
        '<body onload="document.forms[0].submit()">'
        f'<form id="appForm" name="hiddenform" method="POST" action="{AWS_ACS}">'
        f'<input name="SAMLResponse" type="hidden" value="{b64}"/>{relay}'
        '<noscript><p>Script is disabled. Click Submit to continue.</p>'
        '<input type="submit" value="Submit"/></noscript></form></body></html>'
    )


# ---------------------------------------------------------------------------------------
# HTTP


def make_handler(idp, st, scheme):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        # -- plumbing
        def base(self):
            return f"{scheme}://{self.headers.get('Host', '127.0.0.1')}"

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def json_body(self):
            try:
                return json.loads(self.body() or b"{}")
            except ValueError:
                return None

        def form(self):
            return {k: v[0] for k, v in urllib.parse.parse_qs(self.body().decode(), keep_blank_values=True).items()}

        def cookies(self):
            out = {}
            for part in (self.headers.get("Cookie") or "").split(";"):
                if "=" in part:
                    k, v = part.strip().split("=", 1)
                    out[k] = v
            return out

        def send(self, status, body, ctype="application/json", headers=()):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", ctype + ("; charset=utf-8" if not ctype.endswith("charset=utf-8") else ""))
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-cache, no-store")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def send_json(self, status, doc, headers=()):
            self.send(status, json.dumps(doc), "application/json", headers)

        def cookie(self, name, value, path="/"):
            secure = "; Secure" if scheme == "https" else ""
            return ("Set-Cookie", f"{name}={value}; Path={path}; HttpOnly{secure}")

        def okta_error(self, op, status, code, summary, causes=()):
            st.count(op, status, code)
            self.send_json(status, {
                "errorCode": code, "errorSummary": summary, "errorLink": code,
                "errorId": "oae" + secrets.token_urlsafe(16),
                "errorCauses": [{"errorSummary": c} for c in causes],
            })

        # -- routing
        def do_GET(self):
            self.route("GET")

        def do_POST(self):
            self.route("POST")

        def route(self, method):
            url = urllib.parse.urlsplit(self.path)
            path, query = url.path, {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
            parts = path.strip("/").split("/")
            try:
                if path.startswith("/_bed/"):
                    return self.bed(method, path, query)
                if method == "POST" and path == "/api/v1/authn":
                    return self.authn()
                if method == "POST" and len(parts) == 6 and parts[:4] == ["api", "v1", "authn", "factors"] \
                        and parts[5] == "verify":
                    return self.verify(parts[4])
                if method == "POST" and path == "/api/v1/authn/cancel":
                    st.count("OktaCancel", 200)
                    return self.send_json(200, {"status": "UNAUTHENTICATED"})
                if method == "POST" and path == "/api/v1/sessions":
                    return self.create_session()
                if method == "GET" and path == "/api/v1/users/me/appLinks":
                    return self.app_links()
                if method == "GET" and path == "/login/sessionCookieRedirect":
                    return self.session_cookie_redirect(query)
                if method == "GET" and path == "/login/login.htm":
                    st.count("OktaSignInPage", 200)
                    return self.send(200, '<html><body><div id="okta-sign-in"></div></body></html>', "text/html")
                if method == "GET" and len(parts) >= 3 and parts[0] == "home" and parts[1] == "amazon_aws":
                    return self.app_sso(parts[2], query)
                if method == "GET" and len(parts) == 5 and parts[0] == "app" and parts[1] == "amazon_aws" \
                        and parts[3:] == ["sso", "saml"]:
                    return self.app_sso(parts[2], query)
                if path == "/adfs/ls/IdpInitiatedSignOn.aspx":
                    return self.adfs(method, query)
                if method == "GET" and path in ("/metadata", "/FederationMetadata/2007-06/FederationMetadata.xml"):
                    st.count("Metadata", 200)
                    with open(os.path.join(st.dir, "idp-metadata.xml"), "rb") as f:
                        return self.send(200, f.read(), "application/samlmetadata+xml")
                self.okta_error("NotFound", 404, "E0000022", "The endpoint does not support the provided HTTP method")
            except Exception as e:  # a bug in the bed: say so, loudly
                st.count("Error", 500, repr(e))
                self.send_json(500, {"error": repr(e)})

        # -- test-only
        def bed(self, method, path, query):
            if path == "/_bed/counts":
                with st.lock:
                    return self.send_json(200, dict(st.counts))
            if path == "/_bed/issued":
                with st.lock:
                    return self.send_json(200, list(st.issued))
            if path == "/_bed/received":
                with st.lock:
                    return self.send_json(200, list(st.received))
            if path == "/_bed/log":
                with st.lock:
                    return self.send_json(200, list(st.log))
            if path == "/_bed/totp":
                u = st.users[query["username"]]
                return self.send_json(200, {"code": totp(u["totp_secret"])})
            if path == "/_bed/push" and method == "POST":
                doc = self.json_body()
                u = st.users[doc["username"]]
                u["push"] = {"waiting_polls": int(doc.get("waiting_polls", 0)), "result": doc.get("result", "SUCCESS")}
                return self.send_json(200, u["push"])
            self.send_json(404, {"error": "no such bed route"})

        # -- Okta authentication API (Classic Engine)
        def user_doc(self, u):
            return {"id": u["id"], "passwordChanged": "2026-01-05T10:00:00.000Z", "profile": {
                "login": u["username"], "firstName": u.get("first_name", "Jane"), "lastName": "Doe",
                "locale": "en_US", "timeZone": "America/Los_Angeles"}}

        def factor_doc(self, u, kind):
            fid = u["factor_ids"][kind]
            doc = {
                "id": fid,
                "factorType": {"totp": "token:software:totp", "push": "push"}[kind],
                "provider": "OKTA" if kind == "push" else u.get("totp_provider", "GOOGLE"),
                "vendorName": "OKTA" if kind == "push" else u.get("totp_provider", "GOOGLE"),
                "profile": {"credentialId": u["username"]},
                "_links": {"verify": {"href": f"{self.base()}/api/v1/authn/factors/{fid}/verify",
                                      "hints": {"allow": ["POST"]}}},
            }
            if kind == "push":
                doc["profile"].update({"deviceType": "SmartPhone_IPhone", "name": "Jane's iPhone",
                                       "platform": "IOS", "version": "17.2"})
            return doc

        def success(self, op, u, outcome="SUCCESS"):
            token = "20111" + secrets.token_urlsafe(24)
            with st.lock:
                st.session_tokens[token] = u["username"]
            st.count(op, 200, outcome)
            self.send_json(200, {
                "expiresAt": iso(time.time() + 300), "status": "SUCCESS", "sessionToken": token,
                "_embedded": {"user": self.user_doc(u)},
                "_links": {"cancel": {"href": f"{self.base()}/api/v1/authn/cancel", "hints": {"allow": ["POST"]}}},
            })

        def authn(self):
            doc = self.json_body()
            if not isinstance(doc, dict):
                return self.okta_error("OktaAuthn", 400, "E0000003", "The request body was not well-formed.")
            u = st.users.get(doc.get("username"))
            if u is None or not hmac.compare_digest(str(doc.get("password", "")), u["password"]):
                return self.okta_error("OktaAuthn", 401, "E0000004", "Authentication failed")
            if not u["factors"]:
                return self.success("OktaAuthn", u)
            state = "00" + secrets.token_urlsafe(30)
            with st.lock:
                st.state_tokens[state] = {"user": u["username"], "push_polls": 0, "expires": time.time() + 300}
            st.count("OktaAuthn", 200, "MFA_REQUIRED")
            self.send_json(200, {
                "stateToken": state, "expiresAt": iso(time.time() + 300), "status": "MFA_REQUIRED",
                "_embedded": {
                    "user": self.user_doc(u),
                    "factors": [self.factor_doc(u, k) for k in u["factors"]],
                    "policy": {"allowRememberDevice": False, "rememberDeviceLifetimeInMinutes": 0,
                               "rememberDeviceByDefault": False, "factorsPolicyInfo": {}},
                },
                "_links": {"cancel": {"href": f"{self.base()}/api/v1/authn/cancel", "hints": {"allow": ["POST"]}}},
            })

        def verify(self, factor_id):
            doc = self.json_body() or {}
            state = st.state_tokens.get(doc.get("stateToken"))
            if state is None or state["expires"] < time.time():
                return self.okta_error("OktaVerify", 403, "E0000011", "Invalid token provided")
            u = st.users[state["user"]]
            kind = next((k for k, v in u["factor_ids"].items() if v == factor_id), None)
            if kind is None:
                return self.okta_error("OktaVerify", 404, "E0000007", f"Not found: Resource not found: {factor_id} (UserFactor)")
            if kind == "totp":
                code = doc.get("passCode")
                if not code:
                    # saml2aws posts once without a code before asking for it; Okta says the code is missing.
                    return self.okta_error("OktaVerifyTotp", 403, "E0000068", "Invalid Passcode/Answer",
                                           ["Your passcode doesn't match our records. Please try again."])
                if not totp_ok(u["totp_secret"], code):
                    return self.okta_error("OktaVerifyTotp", 403, "E0000068", "Invalid Passcode/Answer",
                                           ["Your passcode doesn't match our records. Please try again."])
                with st.lock:
                    st.state_tokens.pop(doc["stateToken"], None)
                return self.success("OktaVerifyTotp", u)
            # push: the first call sends the push; every call (that one included) is a poll.
            with st.lock:
                state["push_polls"] += 1
                polls = state["push_polls"]
            push = u["push"]
            if polls <= int(push.get("waiting_polls", 0)):
                result = "WAITING"
            else:
                result = push.get("result", "SUCCESS")
            if result == "SUCCESS":
                with st.lock:
                    st.state_tokens.pop(doc["stateToken"], None)
                return self.success("OktaVerifyPush", u)
            st.count("OktaVerifyPush", 200, result)
            verify_href = f"{self.base()}/api/v1/authn/factors/{factor_id}/verify"
            links = {
                "cancel": {"href": f"{self.base()}/api/v1/authn/cancel", "hints": {"allow": ["POST"]}},
                "prev": {"href": f"{self.base()}/api/v1/authn/previous", "hints": {"allow": ["POST"]}},
                "resend": [{"name": "push", "href": verify_href + "/resend", "hints": {"allow": ["POST"]}}],
            }
            if result == "WAITING":
                links["next"] = {"name": "poll", "href": verify_href, "hints": {"allow": ["POST"]}}
            else:
                links["next"] = {"name": "verify", "href": verify_href, "hints": {"allow": ["POST"]}}
            self.send_json(200, {
                "stateToken": doc["stateToken"], "expiresAt": iso(state["expires"]),
                "status": "MFA_CHALLENGE", "factorResult": result, "challengeType": "FACTOR",
                "_embedded": {"user": self.user_doc(u), "factor": self.factor_doc(u, "push")},
                "_links": links,
            })

        def take_session_token(self, token):
            with st.lock:
                return st.session_tokens.pop(token, None) if token else None

        def new_session(self, username):
            sid = "102" + secrets.token_urlsafe(20)
            with st.lock:
                st.sessions[sid] = username
            return sid

        def create_session(self):
            doc = self.json_body() or {}
            username = self.take_session_token(doc.get("sessionToken"))
            if username is None:
                return self.okta_error("OktaSessions", 401, "E0000004", "Authentication failed")
            sid = self.new_session(username)
            u = st.users[username]
            st.count("OktaSessions", 200)
            self.send_json(200, {
                "id": sid, "userId": u["id"], "login": username, "createdAt": iso(time.time()),
                "expiresAt": iso(time.time() + 7200), "status": "ACTIVE",
                "lastPasswordVerification": iso(time.time()), "lastFactorVerification": iso(time.time()),
                "amr": ["pwd"] + (["mfa"] if u["factors"] else []), "idp": {"id": "00o1samlbed", "type": "OKTA"},
                "mfaActive": bool(u["factors"]),
                "_links": {"self": {"href": f"{self.base()}/api/v1/sessions/me", "hints": {"allow": ["GET", "DELETE"]}}},
            })

        def session_user(self):
            sid = self.cookies().get("sid")
            with st.lock:
                return st.sessions.get(sid) if sid else None

        def app_links(self):
            if self.session_user() is None:
                return self.okta_error("OktaAppLinks", 403, "E0000005", "Invalid session")
            st.count("OktaAppLinks", 200)
            self.send_json(200, [{"id": "00ub0oNGTSWTBKOLGLNR", "label": "Amazon Web Services", "appName": "amazon_aws",
                                  "appInstanceId": st.app_id, "linkUrl": f"{self.base()}/home/amazon_aws/{st.app_id}/272",
                                  "sortOrder": 0}])

        def session_cookie_redirect(self, query):
            username = self.take_session_token(query.get("token"))
            target = query.get("redirectUrl") or "/"
            if username is None:
                st.count("OktaSessionCookieRedirect", 302, "no session")
                return self.send(302, "", "text/html", [("Location", f"{self.base()}/login/login.htm")])
            sid = self.new_session(username)
            st.count("OktaSessionCookieRedirect", 302)
            self.send(302, "", "text/html", [("Location", target), self.cookie("sid", sid)])

        def app_sso(self, app_id, query):
            if app_id != st.app_id:
                st.count("OktaAppSso", 404, "unknown app")
                return self.send(404, "<html><body>Not found</body></html>", "text/html")
            headers = []
            username = self.take_session_token(query.get("onetimetoken") or query.get("sessionToken"))
            if username is not None:
                headers.append(self.cookie("sid", self.new_session(username)))
            else:
                username = self.session_user()
            if username is None:
                st.count("OktaAppSso", 302, "sign in")
                from_uri = urllib.parse.quote(f"/home/amazon_aws/{app_id}/272", safe="")
                return self.send(302, "", "text/html", [("Location", f"{self.base()}/login/login.htm?fromURI={from_uri}")])
            b64 = issue(idp, st, st.users[username], "okta")
            st.count("OktaAppSso", 200)
            self.send(200, saml_post_page(b64, query.get("RelayState", "")), "text/html", headers)

        # -- ADFS forms sign-in (IdP-initiated)
        def adfs_page(self, query, error=None):
            rp = query.get("loginToRp", "")
            action = "/adfs/ls/IdpInitiatedSignOn.aspx?" + urllib.parse.urlencode(
                {"loginToRp": rp, "client-request-id": query.get("client-request-id") or secrets.token_hex(16)})
            err = html.escape(error) if error else ""
            return (
                '<!DOCTYPE html><html lang="en-US"><head><title>Sign In</title></head><body>'
                '<div id="loginArea"><div id="loginMessage" class="groupMargin">Sign in with your organizational account</div>'
                f'<form method="post" id="loginForm" autocomplete="off" novalidate="novalidate" action="{html.escape(action)}">'
                '<div id="error" class="fieldMargin error smallText">'
                f'<label id="errorText" for="">{err}</label></div>'
                '<div id="formsAuthenticationArea">'
                '<div id="userNameArea"><label id="userNameInputLabel" for="userNameInput" class="hidden">User Account</label>'
                '<input id="userNameInput" name="UserName" type="email" value="" tabindex="1" class="text fullWidth" '
                'spellcheck="false" placeholder="someone@example.com" autocomplete="off"/></div>'
                '<div id="passwordArea"><label id="passwordInputLabel" for="passwordInput" class="hidden">Password</label>'
                '<input id="passwordInput" name="Password" type="password" tabindex="2" class="text fullWidth" '
                'placeholder="Password" autocomplete="off"/></div>'
                '<div id="kmsiArea" style="display:none"><input type="checkbox" name="Kmsi" id="kmsiInput" value="true" tabindex="3"/>'
                '<label for="kmsiInput">Keep me signed in</label></div>'
                '<div id="submissionArea" class="submitMargin">'
                '<span id="submitButton" class="submit" tabindex="4" role="button" '
                'onclick="document.forms[\'loginForm\'].submit(); return false;">Sign in</span></div></div>'
                '<input id="optionForms" type="hidden" name="AuthMethod" value="FormsAuthentication"/>'
                '</form></div></body></html>'
            )

        def adfs(self, method, query):
            if query.get("loginToRp") != AWS_SP:
                st.count("AdfsSignOn", 400, "unknown relying party")
                return self.send(400, "<html><body>MSIS7001: The passive protocol context was not found or not valid.</body></html>",
                                 "text/html")
            if method == "POST":
                f = self.form()
                u = st.users.get(f.get("UserName"))
                if f.get("AuthMethod") != "FormsAuthentication" or u is None \
                        or not hmac.compare_digest(f.get("Password", ""), u["password"]):
                    st.count("AdfsSignOnPost", 200, "wrong password")
                    return self.send(200, self.adfs_page(query, "Incorrect user ID or password. Type the correct user ID and password, and try again."),
                                     "text/html")
                token = secrets.token_urlsafe(24)
                with st.lock:
                    st.adfs_auth[token] = u["username"]
                st.count("AdfsSignOnPost", 302)
                here = "/adfs/ls/IdpInitiatedSignOn.aspx?" + urllib.parse.urlencode(query)
                return self.send(302, "", "text/html", [("Location", here), self.cookie("MSISAuth", token, "/adfs")])
            with st.lock:
                username = st.adfs_auth.get(self.cookies().get("MSISAuth", ""))
            if username is None:
                st.count("AdfsSignOnPage", 200)
                return self.send(200, self.adfs_page(query), "text/html")
            b64 = issue(idp, st, st.users[username], "adfs")
            st.count("AdfsSamlForm", 200)
            self.send(200, saml_post_page(b64), "text/html")

    return H


# ---------------------------------------------------------------------------------------
# An STS front for moto: AWS's checks of AssumeRoleWithSAML, then moto


def make_sp(directory):
    """pysaml2's SP configured as AWS's: signed responses and assertions, unsolicited."""
    from saml2.client import Saml2Client
    from saml2.config import SPConfig

    conf = SPConfig()
    conf.load({
        "entityid": AWS_SP,
        "xmlsec_binary": shutil.which("xmlsec1"),
        "metadata": {"local": [os.path.join(directory, "idp-metadata.xml")]},
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(AWS_ACS, BINDING_HTTP_POST)]},
            "allow_unsolicited": True, "want_response_signed": True, "want_assertions_signed": True,
        }},
    })
    return Saml2Client(config=conf)


def sts_error(code, message, status):
    body = ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            f'<Code>{code}</Code><Message>{html.escape(message)}</Message></Error>'
            f'<RequestId>{secrets.token_hex(16)}</RequestId></ErrorResponse>')
    return status, body


def check_saml(sp, form):
    """None when AWS would take the call, else (status, error body)."""
    import re

    b64 = form.get("SAMLAssertion", "")
    role, principal = form.get("RoleArn", ""), form.get("PrincipalArn", "")
    try:
        resp = sp.parse_authn_request_response(b64, BINDING_HTTP_POST)
    except Exception as e:  # signature, audience, destination, time window
        name = type(e).__name__
        if "Expired" in name or "Time" in name:
            return sts_error("ExpiredTokenException", "Token has expired", 400)
        return sts_error("InvalidIdentityToken", f"Invalid SAML assertion: {name}", 400)
    if resp is None:
        return sts_error("InvalidIdentityToken", "Invalid SAML assertion", 400)
    values = [v.text for st in resp.assertion.attribute_statement for a in st.attribute if a.name == ROLE_ATTR
              for v in a.attribute_value]
    pairs = [set(x.strip() for x in (v or "").split(",")) for v in values]
    if {role, principal} not in pairs or not re.match(r"^arn:aws[\w-]*:iam::\d{12}:saml-provider/", principal):
        return sts_error("AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML", 403)
    return None


def one_role(b64, role, principal):
    """The assertion with only `role,principal` in the Role attribute, for moto (which checks
    no signature)."""
    import xml.etree.ElementTree as ET

    ns = "urn:oasis:names:tc:SAML:2.0:assertion"
    root = ET.fromstring(base64.b64decode(b64))
    for attr in root.iter(f"{{{ns}}}Attribute"):
        if attr.get("Name") == ROLE_ATTR:
            values = attr.findall(f"{{{ns}}}AttributeValue")
            for v in values[1:]:
                attr.remove(v)
            values[0].text = f"{role},{principal}"
    return base64.b64encode(ET.tostring(root)).decode()


def make_sts_handler(sp, st, moto_url):
    import urllib.error
    import urllib.request

    class S(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, status, body, ctype="text/xml"):
            data = body if isinstance(body, bytes) else body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode(), keep_blank_values=True).items()}
            action = form.get("Action", "")
            op = "Sts" + action
            if action == "AssumeRoleWithSAML":
                with st.lock:
                    st.received.append(form.get("SAMLAssertion", ""))
                refused = check_saml(sp, form)
                if refused:
                    st.count(op, refused[0], refused[1].split("<Code>")[1].split("<")[0])
                    return self.reply(*refused)
                form["SAMLAssertion"] = one_role(form["SAMLAssertion"], form["RoleArn"], form["PrincipalArn"])
                raw = urllib.parse.urlencode(form).encode()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            req = urllib.request.Request(moto_url + self.path, data=raw, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    status, body, ctype = r.status, r.read(), r.headers.get("Content-Type", "text/xml")
            except urllib.error.HTTPError as e:
                status, body, ctype = e.code, e.read(), e.headers.get("Content-Type", "text/xml")
            st.count(op, status, "relayed")
            self.reply(status, body, ctype)

    return S


def main():
    config_path, directory = sys.argv[1], sys.argv[2]
    with open(config_path) as f:
        config = json.load(f)
    st = State(config)
    st.dir = directory
    http_srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), None)
    https_srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), None)
    entity_id = config.get("entity_id", f"http://127.0.0.1:{http_srv.server_address[1]}/saml/idp")
    key_path, cert_path = make_signing_key(directory)
    idp = make_server(directory, entity_id, key_path, cert_path)
    http_srv.RequestHandlerClass = make_handler(idp, st, "http")
    https_srv.RequestHandlerClass = make_handler(idp, st, "https")
    ca, cert, key = make_certificates(directory)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    https_srv.socket = ctx.wrap_socket(https_srv.socket, server_side=True)
    servers = [http_srv, https_srv]
    sts_port = None
    if config.get("moto_url"):
        sts_srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_sts_handler(make_sp(directory), st,
                                                                                      config["moto_url"]))
        servers.append(sts_srv)
        sts_port = sts_srv.server_address[1]
    for srv in servers:
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print(json.dumps({
        "http": http_srv.server_address[1], "https": https_srv.server_address[1], "sts": sts_port, "ca": ca,
        "cert": cert_path, "metadata": os.path.join(directory, "idp-metadata.xml"), "entity_id": entity_id,
    }), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
