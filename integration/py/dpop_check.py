"""Verifies DPoP proofs (RFC 9449) with jwcrypto, independently of tfauth's own code.

Reads a JSON list of {"proof": JWS, "htu": URL}; for each, the signature must verify with
the public JWK in its own header (ES256, P-256, no private member), typ dpop+jwt, htm POST,
htu the URL, and a jti and iat present. Prints "N proofs verified" or fails.
"""
import json
import sys

from jwcrypto import jwk, jws

proofs = json.load(open(sys.argv[1]))
jtis = set()
for item in proofs:
    token = jws.JWS()
    token.deserialize(item["proof"])
    header = token.jose_header
    assert header["typ"] == "dpop+jwt", header
    assert header["alg"] == "ES256", header
    pub = header["jwk"]
    assert "d" not in pub, "the proof carries a private key"
    key = jwk.JWK(**pub)
    assert key.key_type == "EC" and pub["crv"] == "P-256"
    token.verify(key, alg="ES256")
    claims = json.loads(token.payload)
    assert claims["htm"] == "POST", claims
    assert claims["htu"] == item["htu"], claims
    assert isinstance(claims["iat"], int), claims
    assert claims["jti"] and claims["jti"] not in jtis, claims
    jtis.add(claims["jti"])
print(f"{len(proofs)} proofs verified")
