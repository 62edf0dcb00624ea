"""Reads an MSAL token cache file the way MSAL Python 1.39 does, and reports what it found.

Used by the integration suite to check a cache file that another program (tfauth) wrote:
MSAL must see the account and, when the access token has more than five minutes left, serve
it from the cache without calling the token endpoint.

    python ms_read_cache.py CACHE AUTHORITY CLIENT_ID SCOPES CA_BUNDLE
        [--instance-discovery URL] [--force-refresh] [--username UPN] [--dump-cache]

SCOPES is one argument, space-separated (e.g. "https://management.azure.com/.default").
AUTHORITY is e.g. "https://127.0.0.1:PORT/TENANT" (the stand-in's TLS front); constructing
the application fetches AUTHORITY/v2.0/.well-known/openid-configuration, always. Instance
discovery is off unless --instance-discovery gives its URL: with it on, a cache miss makes
MSAL look up authority aliases at https://login.microsoftonline.com, which a test must not
reach.

Prints one JSON document:
    {"accounts": [...get_accounts()...],
     "account": the account used (the first, or the one named by --username) or null,
     "served_from_cache": true when acquire_token_silent answered from the cache,
     "result": acquire_token_silent_with_error's answer (null: nothing usable in the cache),
     "cache_state_changed": whether MSAL changed the cache (a refresh writes new tokens),
     "cache": the cache after the call (only with --dump-cache)}
The cache file itself is never written.
"""

import argparse
import json
import sys
import warnings

import msal


def read_cache(cache_text, authority, client_id, scopes, ca_bundle, *, instance_discovery=False,
               force_refresh=False, username=None):
    """What MSAL makes of `cache_text` (the file's content). Returns the dict printed by main()."""
    cache = msal.SerializableTokenCache()
    cache.deserialize(cache_text)
    app = msal.PublicClientApplication(
        client_id,
        authority=authority,
        token_cache=cache,
        verify=ca_bundle,
        instance_discovery=instance_discovery,
    )
    accounts = app.get_accounts(username=username)
    account = accounts[0] if accounts else None
    result = None
    if account is not None:
        result = app.acquire_token_silent_with_error(scopes, account=account, force_refresh=force_refresh)
    return {
        "accounts": accounts,
        "account": account,
        "served_from_cache": bool(result) and result.get("token_source") == "cache",
        "result": result,
        "cache_state_changed": cache.has_state_changed,
        "cache": json.loads(cache.serialize()),
    }


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cache")
    p.add_argument("authority")
    p.add_argument("client_id")
    p.add_argument("scopes")
    p.add_argument("ca_bundle")
    p.add_argument("--instance-discovery", default=None)
    p.add_argument("--force-refresh", action="store_true")
    p.add_argument("--username", default=None)
    p.add_argument("--dump-cache", action="store_true")
    a = p.parse_args(argv)
    warnings.simplefilter("ignore")
    with open(a.cache, encoding="utf-8") as f:
        text = f.read()
    out = read_cache(
        text,
        a.authority,
        a.client_id,
        a.scopes.split(),
        a.ca_bundle,
        instance_discovery=a.instance_discovery or False,
        force_refresh=a.force_refresh,
        username=a.username,
    )
    if not a.dump_cache:
        del out["cache"]
    json.dump(out, sys.stdout, indent=2, sort_keys=True)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
