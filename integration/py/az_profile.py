"""Reads an AZURE_CONFIG_DIR the way the Azure CLI does, through azure-cli-core's own Profile.

`az account show` is Profile.get_subscription(); `az account get-access-token` is
Profile.get_raw_token(). Both read AZURE_CONFIG_DIR (azureProfile.json, the `config` file,
the MSAL token cache named there), which must be set in the environment before this runs.

    python az_profile.py AUTHORITY_HOST

AUTHORITY_HOST replaces the public cloud's Entra ID endpoint (`login.microsoftonline.com`)
for this process only, as a custom cloud would: the test points it at the stand-in's TLS
front (trusted through REQUESTS_CA_BUNDLE). Instance discovery is turned off the way az
users turn it off (AZURE_CORE_INSTANCE_DISCOVERY=false), since it would ask the public cloud.

Prints one JSON document:
    {"subscription": what `az account show` shows,
     "tokens": {"default": az's own ARM scope (`az account get-access-token`),
                "arm": `--resource https://management.azure.com/`},
         each {"type", "tenant", "subscription", "access_token", "expires_on"},
     "cache_files": the names under AZURE_CONFIG_DIR after the calls}
"""

import json
import os
import sys
import warnings


def main(argv):
    authority_host = argv[0]
    warnings.simplefilter("ignore")
    os.environ.setdefault("AZURE_CORE_INSTANCE_DISCOVERY", "false")
    os.environ.setdefault("AZURE_CORE_COLLECT_TELEMETRY", "false")

    from azure.cli.core import get_default_cli
    from azure.cli.core._profile import Profile

    cli = get_default_cli()
    cli.cloud.endpoints.active_directory = authority_host
    profile = Profile(cli_ctx=cli)
    sub = profile.get_subscription()
    tokens = {}
    for name, resource in (("default", None), ("arm", "https://management.azure.com/")):
        (token_type, access_token, entry), subscription, tenant = profile.get_raw_token(resource=resource)
        tokens[name] = {
            "type": token_type,
            "tenant": tenant,
            "subscription": subscription,
            "access_token": access_token,
            "expires_on": entry["expires_on"],
        }
    out = {
        "subscription": sub,
        "tokens": tokens,
        "cache_files": sorted(os.listdir(os.environ["AZURE_CONFIG_DIR"])),
    }
    json.dump(out, sys.stdout, indent=2, sort_keys=True)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
