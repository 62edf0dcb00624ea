//! `auth console` for Azure identities: the Azure portal, in the tenant of the identity's
//! provider, on a page an alias names, as Atmos builds it (`pkg/auth/cloud/azure/console.go`):
//! `https://portal.azure.com/#@<tenant>` and, for an alias, the portal's own path after it.
//!
//! Unlike AWS there is no sign-in token: the portal signs the browser in itself, so the URL
//! is no secret and nothing is asked of Entra ID to build it. Pure: no I/O.

use super::destination::{has_web_scheme, is_at_or_under, split_url};
use super::errors::ConsoleError;
use crate::auth::Cloud;
use crate::auth::schema::AzureCloud;
use crate::error::Error;
use crate::identity::{Chain, ChainRoot};

/// What an Azure alias opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The tenant's portal home.
    Home,
    /// A portal blade, by its path after `#@<tenant>`.
    Blade(&'static str),
    /// The overview of the identity's subscription.
    Subscription,
}

/// Atmos's Azure aliases, sorted (Atmos also takes `home`, and no destination at all, for
/// the tenant's home).
pub const ALIASES: &[(&str, Place)] = &[
    (
        "aks",
        Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.ContainerService%2FManagedClusters"),
    ),
    ("appservice", Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.Web%2FSites")),
    (
        "containerinstances",
        Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.ContainerInstance%2FContainerGroups"),
    ),
    (
        "containers",
        Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.ContainerInstance%2FContainerGroups"),
    ),
    (
        "cosmos",
        Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.DocumentDb%2FDatabaseAccounts"),
    ),
    (
        "cosmosdb",
        Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.DocumentDb%2FDatabaseAccounts"),
    ),
    (
        "functionapps",
        Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.Web%2FSites/kind/functionapp"),
    ),
    (
        "functions",
        Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.Web%2FSites/kind/functionapp"),
    ),
    ("home", Place::Home),
    ("keyvault", Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.KeyVault%2FVaults")),
    (
        "kubernetes",
        Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.ContainerService%2FManagedClusters"),
    ),
    ("kv", Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.KeyVault%2FVaults")),
    ("monitor", Place::Blade("/blade/Microsoft_Azure_Monitoring/AzureMonitoringBrowseBlade")),
    ("monitoring", Place::Blade("/blade/Microsoft_Azure_Monitoring/AzureMonitoringBrowseBlade")),
    ("network", Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.Network%2FVirtualNetworks")),
    ("resourcegroups", Place::Blade("/blade/HubsExtension/BrowseResourceGroups")),
    ("rg", Place::Blade("/blade/HubsExtension/BrowseResourceGroups")),
    ("sql", Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.Sql%2FServers")),
    ("sqldatabases", Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.Sql%2FServers")),
    ("storage", Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.Storage%2FStorageAccounts")),
    (
        "storageaccounts",
        Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.Storage%2FStorageAccounts"),
    ),
    ("sub", Place::Subscription),
    ("subscription", Place::Subscription),
    (
        "virtualmachines",
        Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.Compute%2FVirtualMachines"),
    ),
    (
        "virtualnetworks",
        Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.Network%2FVirtualNetworks"),
    ),
    ("vm", Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.Compute%2FVirtualMachines")),
    ("vnet", Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.Network%2FVirtualNetworks")),
    ("webapps", Place::Blade("/blade/HubsExtension/BrowseResource/resourceType/Microsoft.Web%2FSites")),
];

/// The portal's host in `cloud`.
pub fn portal_host(cloud: AzureCloud) -> &'static str {
    match cloud {
        AzureCloud::Public => "portal.azure.com",
        AzureCloud::UsGovernment => "portal.azure.us",
        AzureCloud::China => "portal.azure.cn",
    }
}

/// Where the portal opens for an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Portal {
    pub url: String,
    pub tenant: String,
    pub cloud: AzureCloud,
}

/// The portal URL for `name` (the leaf of `chain`) and `--destination`. The tenant and
/// cloud are the chain's provider's, the subscription the nearest azure/subscription's (or
/// the provider's).
pub fn portal(name: &str, chain: &Chain, destination: Option<&str>) -> Result<Portal, Error> {
    let scope = crate::output::azure::scope(chain);
    let cloud = scope.cloud;
    let Some(tenant) = scope.tenant_id.filter(|t| !t.trim().is_empty()) else {
        return Err(no_tenant(name, chain));
    };
    let url = url_for(&tenant, cloud, scope.subscription_id.as_deref(), destination).map_err(|e| match e {
        ConsoleError::NoSubscription { alias, .. } => {
            ConsoleError::NoSubscription { identity: name.to_string(), alias }
        }
        e => e,
    })?;
    Ok(Portal { url, tenant, cloud })
}

/// The URL for a tenant, cloud and subscription: home, an alias's page, or a checked
/// portal URL of the same cloud.
pub fn url_for(
    tenant: &str,
    cloud: AzureCloud,
    subscription: Option<&str>,
    destination: Option<&str>,
) -> Result<String, ConsoleError> {
    let host = portal_host(cloud);
    let home = format!("https://{host}/#@{}", crate::providers::encode(tenant));
    let given = destination.map(str::trim).unwrap_or_default();
    if given.is_empty() {
        return Ok(home);
    }
    if has_web_scheme(given) {
        let not_portal = |reason: &str, h: Option<String>| ConsoleError::NotConsoleUrl {
            host: h,
            reason: reason.to_string(),
            cloud: Cloud::Azure,
            expected: host.to_string(),
        };
        let (h, tail) = split_url(given).map_err(|r| not_portal(r, None))?;
        if !is_at_or_under(&h, host) {
            let reason = format!("is not the Azure portal of the identity's cloud ({})", cloud.name());
            return Err(not_portal(&reason, Some(h)));
        }
        return Ok(format!("https://{h}{tail}"));
    }
    let alias = given.to_ascii_lowercase();
    let Ok(i) = ALIASES.binary_search_by(|(a, _)| a.cmp(&alias.as_str())) else {
        return Err(ConsoleError::UnknownAlias {
            given: given.to_string(),
            cloud: Cloud::Azure,
            near: crate::util::suggest::nearest(&alias, ALIASES.iter().map(|(a, _)| *a)),
        });
    };
    Ok(match ALIASES[i].1 {
        Place::Home => home,
        Place::Blade(path) => format!("{home}{path}"),
        Place::Subscription => match subscription.filter(|s| !s.trim().is_empty()) {
            Some(s) => format!("{home}/resource/subscriptions/{}/overview", crate::providers::encode(s)),
            None => return Err(ConsoleError::NoSubscription { identity: String::new(), alias }),
        },
    })
}

/// The portal URL names the tenant; a provider that names none (azure/cli may leave it to
/// `az`) is a configuration problem at the provider, as Atmos requires `tenant_id` there.
fn no_tenant(name: &str, chain: &Chain) -> Error {
    let (subject, span, provider) = match &chain.root {
        ChainRoot::Provider(p) => {
            (crate::auth::Subject::Provider(p.name.clone()), p.span.clone(), format!("provider `{}`", p.name))
        }
        ChainRoot::Standalone => {
            (crate::auth::Subject::Identity(name.to_string()), chain.leaf().span.clone(), format!("identity `{name}`"))
        }
    };
    let problem = crate::auth::Problem {
        subject,
        span: Some(span),
        message: format!("{provider} has no `spec.tenant_id`, which the Azure portal URL for identity `{name}` needs"),
        hint: Some(format!(
            "add `spec.tenant_id` (the directory's id or domain) to {provider}, as Atmos requires for every Azure provider"
        )),
    };
    Error::Auth(crate::auth::AuthError::Invalid { problems: vec![problem] })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "0b5e6c1d-2a3f-4e5d-8c7b-9a0f1e2d3c4b";
    const S: &str = "6f1c2a4e-3b5d-4c7e-9f80-1a2b3c4d5e6f";

    fn public(dest: Option<&str>) -> Result<String, ConsoleError> {
        url_for(T, AzureCloud::Public, Some(S), dest)
    }

    #[test]
    fn the_alias_table_is_atmos_s_sorted_and_unique() {
        assert_eq!(ALIASES.len(), 28, "Atmos's 27 aliases and `home`");
        assert!(ALIASES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn the_tenant_home_is_the_default_and_home() {
        let home = format!("https://portal.azure.com/#@{T}");
        assert_eq!(public(None).unwrap(), home);
        assert_eq!(public(Some("")).unwrap(), home);
        assert_eq!(public(Some("HOME")).unwrap(), home);
        assert_eq!(
            url_for("contoso.onmicrosoft.com", AzureCloud::Public, None, None).unwrap(),
            "https://portal.azure.com/#@contoso.onmicrosoft.com"
        );
        assert_eq!(url_for(T, AzureCloud::UsGovernment, None, None).unwrap(), format!("https://portal.azure.us/#@{T}"));
        assert_eq!(
            url_for(T, AzureCloud::China, None, Some("rg")).unwrap(),
            format!("https://portal.azure.cn/#@{T}/blade/HubsExtension/BrowseResourceGroups")
        );
    }

    #[test]
    fn aliases_open_atmos_s_blades() {
        for (alias, path) in [
            ("rg", "/blade/HubsExtension/BrowseResourceGroups"),
            ("VM", "/blade/HubsExtension/BrowseResource/resourceType/Microsoft.Compute%2FVirtualMachines"),
            ("kv", "/blade/HubsExtension/BrowseResource/resourceType/Microsoft.KeyVault%2FVaults"),
            ("monitor", "/blade/Microsoft_Azure_Monitoring/AzureMonitoringBrowseBlade"),
            ("functions", "/blade/HubsExtension/BrowseResource/resourceType/Microsoft.Web%2FSites/kind/functionapp"),
            ("sub", &format!("/resource/subscriptions/{S}/overview")),
            ("subscription", &format!("/resource/subscriptions/{S}/overview")),
        ] {
            assert_eq!(public(Some(alias)).unwrap(), format!("https://portal.azure.com/#@{T}{path}"), "{alias}");
        }
        assert!(matches!(url_for(T, AzureCloud::Public, None, Some("sub")), Err(ConsoleError::NoSubscription { .. })));
    }

    #[test]
    fn unknown_aliases_and_foreign_urls_are_refused() {
        let Err(ConsoleError::UnknownAlias { near, cloud: Cloud::Azure, .. }) = public(Some("keyvalt")) else {
            panic!()
        };
        assert_eq!(near[0], "keyvault");
        for bad in [
            "https://evil.example/#@x",
            "https://portal.azure.com.evil.example/",
            "https://portal.azure.us/",
            "https://me@portal.azure.com/",
            "https://console.aws.amazon.com/s3",
        ] {
            assert!(matches!(public(Some(bad)), Err(ConsoleError::NotConsoleUrl { cloud: Cloud::Azure, .. })), "{bad}");
        }
        assert_eq!(public(Some("https://Portal.Azure.com/#view/x")).unwrap(), "https://portal.azure.com/#view/x");
        assert_eq!(public(Some("https://ms.portal.azure.com/#home")).unwrap(), "https://ms.portal.azure.com/#home");
    }

    #[test]
    fn a_tenant_that_is_not_url_safe_is_encoded() {
        assert_eq!(url_for("a/b#c", AzureCloud::Public, None, None).unwrap(), "https://portal.azure.com/#@a%2Fb%23c");
    }
}
