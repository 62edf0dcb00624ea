"""Independent clients against the SAML IdP stand-in (integration/py/saml_idp.py), run by
integration/saml_standin.rs. Each command prints one JSON document on stdout.

    saml_check.py okta BASE CA USERNAME PASSWORD FACTOR APP_URL [--totp-secret S] [checks]
        aws-okta-processor's own Okta client (authn API, MFA factor, Sessions API, the app
        link with the session cookie) gets the SAMLResponse. FACTOR: "none",
        "token:software:totp:google" (the code from pyotp) or "push:okta".
    saml_check.py adfs HOSTPORT CA USERNAME PASSWORD [checks]
        aws-adfs's own fetcher (forms sign-in at IdpInitiatedSignOn.aspx) and extractor.
    saml_check.py verify B64FILE [checks]

checks: --metadata IDP_METADATA (pysaml2's SP parser and signxml verify the signature,
audience, destination), --tamper (change a role in the signed XML first: both must then
refuse), --moto URL --role ROLE_ARN [--principal ARN] (boto3's AssumeRoleWithSAML against moto or the
IdP's STS front, then GetCallerIdentity with the keys it returned; a refusal is reported as
"sts_error").

It must not decide anything for the test: it reports what the clients said, and the Rust
test asserts.
"""

import argparse
import base64
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore", message=".*CFB has been moved.*")

ROLE_ATTR = "https://aws.amazon.com/SAML/Attributes/Role"
NAME_ATTR = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
DURATION_ATTR = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
AWS_ACS = "https://signin.aws.amazon.com/saml"


def okta(a, out):
    """aws-okta-processor 1.10's Okta class, as its credential_process runs it."""
    import getpass

    from aws_okta_processor.core import okta as aop
    from aws_okta_processor.core import saml as aop_saml

    if a.totp_secret:
        import pyotp
        getpass.getpass = lambda prompt="": pyotp.TOTP(a.totp_secret).now()
    os.environ["REQUESTS_CA_BUNDLE"] = a.ca
    host = a.base.split("://", 1)[1].rstrip("/")
    prompts = io.StringIO()

    def to_prompts(string="", indents=0, newline=True, silent=False):
        # Its messages go to /dev/tty when there is one; here they are the test's to read.
        if not silent:
            prompts.write(string + ("\n" if newline else ""))

    aop.print_tty = to_prompts
    aop_saml.print_tty = to_prompts
    try:
        with contextlib.redirect_stdout(prompts):
            client = aop.Okta(user_name=a.username, user_pass=a.password, organization=host,
                              factor=None if a.factor == "none" else a.factor, silent=True, no_okta_cache=True)
            page = client.get_saml_response(application_url=a.app_url)
            out["saml_response"] = aop_saml.get_saml_assertion(saml_response=page)
            # Not its get_aws_roles: with several roles that posts the assertion to AWS's
            # sign-in page for account names, which must never be reached from here.
    except SystemExit as e:
        out["exit"] = e.code
    out["client_said"] = prompts.getvalue()


def adfs(a, out):
    """aws-adfs 2.13's fetcher and extractor (without its Kerberos extra, which needs krb5)."""
    import lxml.etree as ET
    from aws_adfs import html_roles_fetcher, roles_assertion_extractor

    jar = tempfile.mkdtemp()
    try:
        response, _session = html_roles_fetcher.fetch_html_encoded_roles(
            adfs_host=a.hostport, adfs_cookie_location=os.path.join(jar, "cookies"), ssl_verification_enabled=True,
            provider_id="urn:amazon:webservices", adfs_ca_bundle=a.ca, username=a.username, password=a.password)
        out["status"] = response.status_code
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                roles, assertion, duration = roles_assertion_extractor.extract(ET.fromstring(response.text, ET.HTMLParser()))
            out["saml_response"] = assertion
            out["aws_adfs_roles"] = roles
            out["aws_adfs_duration"] = duration
        except SystemExit as e:
            out["exit"] = e.code
        out["client_said"] = err.getvalue()
    finally:
        shutil.rmtree(jar, ignore_errors=True)


def tamper(b64):
    xml = base64.b64decode(b64).decode()
    changed = xml.replace(":role/", ":role/x", 1)
    assert changed != xml
    return base64.b64encode(changed.encode()).decode()


def pysaml2_sp(b64, metadata):
    """pysaml2's SP, configured as AWS: signed responses and assertions required."""
    from saml2 import BINDING_HTTP_POST
    from saml2.client import Saml2Client
    from saml2.config import SPConfig

    conf = SPConfig()
    conf.load({
        "entityid": "urn:amazon:webservices",
        "xmlsec_binary": shutil.which("xmlsec1"),
        "metadata": {"local": [metadata]},
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(AWS_ACS, BINDING_HTTP_POST)]},
            "allow_unsolicited": True,
            "want_response_signed": True,
            "want_assertions_signed": True,
            "authn_requests_signed": False,
        }},
    })
    resp = Saml2Client(config=conf).parse_authn_request_response(b64, BINDING_HTTP_POST)
    if resp is None:
        raise ValueError("pysaml2 returned no response")
    # pysaml2 drops attributes it has no local name for from get_identity(); read them off
    # the assertion it parsed and whose signature it checked.
    attrs = {a.name: [v.text for v in a.attribute_value]
             for st in resp.assertion.attribute_statement for a in st.attribute}
    return {
        "issuer": resp.issuer(),
        "name_id": resp.name_id.text if resp.name_id else None,
        "roles": attrs.get(ROLE_ATTR, []),
        "session_name": (attrs.get(NAME_ATTR) or [None])[0],
        "duration": (attrs.get(DURATION_ATTR) or [None])[0],
        "audience": [a.text for c in [resp.assertion.conditions] for r in c.audience_restriction for a in r.audience],
        "destination": resp.response.destination,
    }


def signxml_verify(b64, metadata):
    """signxml (no xmlsec1) checks the Response's and the Assertion's signatures with the
    certificate the IdP's metadata publishes."""
    import lxml.etree as ET
    from signxml import XMLVerifier

    md = ET.parse(metadata)
    cert = md.find(".//{http://www.w3.org/2000/09/xmldsig#}X509Certificate").text.strip()
    doc = ET.fromstring(base64.b64decode(b64))
    verified = XMLVerifier().verify(doc, x509_cert=cert, expect_references=1)
    assertion = doc.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    XMLVerifier().verify(assertion, x509_cert=cert)
    return {"signed_element": ET.QName(verified.signed_xml).localname}


def assume(b64, moto, role, out, principal=None):
    import boto3
    import lxml.etree as ET

    xml = base64.b64decode(b64).decode()
    for v in ET.fromstring(xml.encode()).iter("{urn:oasis:names:tc:SAML:2.0:assertion}AttributeValue"):
        parts = (v.text or "").split(",")
        if principal is None and len(parts) == 2 and role in parts:
            principal = parts[1] if parts[0] == role else parts[0]
    if principal is None:
        out["moto_error"] = f"{role} is not in the assertion"
        return
    # No retries: a refusal is the answer under test, and moto's 500s would only be repeated.
    from botocore.config import Config
    kw = dict(endpoint_url=moto, config=Config(retries={"total_max_attempts": 1}), region_name="us-east-1", aws_access_key_id="unused", aws_secret_access_key="unused")
    sts = boto3.client("sts", **kw)
    try:
        r = sts.assume_role_with_saml(RoleArn=role, PrincipalArn=principal, SAMLAssertion=b64)
    except sts.exceptions.ClientError as e:
        out["sts_error"] = {"code": e.response["Error"]["Code"], "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
                            "message": e.response["Error"].get("Message")}
        return
    c = r["Credentials"]
    out["assumed_role_user"] = r["AssumedRoleUser"]["Arn"]
    out["expiration"] = c["Expiration"].isoformat()
    kw.update(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
    out["caller_arn"] = boto3.client("sts", **kw).get_caller_identity()["Arn"]


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("okta")
    for n in ("base", "ca", "username", "password", "factor", "app_url"):
        o.add_argument(n)
    o.add_argument("--totp-secret")
    d = sub.add_parser("adfs")
    for n in ("hostport", "ca", "username", "password"):
        d.add_argument(n)
    v = sub.add_parser("verify")
    v.add_argument("b64file")
    for s in (o, d, v):
        s.add_argument("--metadata")
        s.add_argument("--tamper", action="store_true")
        s.add_argument("--moto")
        s.add_argument("--role")
        s.add_argument("--principal", help="the PrincipalArn to send (default: the role's pair in the assertion)")
    a = p.parse_args()
    out = {}
    if a.cmd == "okta":
        okta(a, out)
    elif a.cmd == "adfs":
        adfs(a, out)
    else:
        out["saml_response"] = open(a.b64file).read().strip()
    b64 = out.get("saml_response")
    if b64 and a.tamper:
        b64 = tamper(b64)
    if b64 and a.metadata:
        for name, check in (("pysaml2", pysaml2_sp), ("signxml", signxml_verify)):
            try:
                out[name] = check(b64, a.metadata)
            except Exception as e:  # the verdict is the test's to judge
                out[name] = {"error": f"{type(e).__name__}: {e}"}
    if b64 and a.moto:
        try:
            assume(b64, a.moto, a.role, out, a.principal)
        except Exception as e:
            out["moto_error"] = f"{type(e).__name__}: {e}"
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
