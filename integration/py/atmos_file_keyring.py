"""Atmos's file keyring, done independently with jwcrypto: what 99designs/keyring's file
backend (the one Atmos opens) writes and reads, so the suite can check tfauth against an
implementation that is not tfauth's.

    atmos_file_keyring.py write DIR KEY   < value     an entry as 99designs writes it
    atmos_file_keyring.py read DIR KEY                prints the entry's Item JSON and its header

The password is in ATMOS_KEYRING_PASSWORD (never in argv). An entry is the file
DIR/<KEY with % and / percent-escaped>, holding a compact JWE: PBES2-HS256+A128KW with
p2c 8192 and a 12-byte salt, A256GCM, a "created" header, over the JSON of the Item
{"Key", "Data" (standard base64), "Label", "Description", "KeychainNotTrustApplication",
"KeychainNotSynchronizable"} in Go's field order.
"""

import base64
import datetime
import json
import os
import sys

from jwcrypto import jwe, jwk
from jwcrypto.common import base64url_encode


def escape(key):
    out = []
    for ch in key:
        if ch in "%/":
            out.extend("%%%02X" % b for b in ch.encode("utf-8"))
        else:
            out.append(ch)
    return "".join(out)


def password_key():
    return jwk.JWK.from_password(os.environ["ATMOS_KEYRING_PASSWORD"])


def write(directory, key, value):
    item = {
        "Key": key,
        "Data": base64.b64encode(value.encode("utf-8")).decode("ascii"),
        "Label": "",
        "Description": "",
        "KeychainNotTrustApplication": False,
        "KeychainNotSynchronizable": False,
    }
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f000 +0000 UTC")
    protected = {
        "alg": "PBES2-HS256+A128KW",
        "created": created,
        "enc": "A256GCM",
        "p2c": 8192,
        "p2s": base64url_encode(os.urandom(12)),
    }
    token = jwe.JWE(json.dumps(item, separators=(",", ":")).encode("utf-8"), protected=json.dumps(protected))
    token.add_recipient(password_key())
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, escape(key))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token.serialize(compact=True))
    print(path)


def read(directory, key):
    with open(os.path.join(directory, escape(key))) as f:
        text = f.read()
    token = jwe.JWE()
    token.deserialize(text, key=password_key())
    print(json.dumps({"item": json.loads(token.payload), "header": token.jose_header}))


def main():
    command, directory, key = sys.argv[1:4]
    if command == "write":
        write(directory, key, sys.stdin.read())
    elif command == "read":
        read(directory, key)
    else:
        sys.exit("unknown command " + command)


if __name__ == "__main__":
    main()
