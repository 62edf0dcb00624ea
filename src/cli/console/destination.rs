//! Where `auth console` sends the browser in the AWS console: Atmos's destination aliases
//! (`s3`, `ec2`, `iam`, ...), and the console URLs a user may give instead.
//!
//! Why it exists: the destination goes into the federation `login` URL, and AWS redirects
//! the freshly signed-in browser to it. Anything accepted here is where a console session
//! lands, so only the console hosts of the identity's own partition are let through (Atmos
//! passes any `http(s)://` URL on; tfauth reads the same inputs and refuses the ones that
//! are not a console). Pure string work: no I/O, and it never echoes a query string (a
//! pasted sign-in URL would carry a token) into an error.

use super::errors::ConsoleError;
use super::signin::Partition;

/// Atmos's aliases (`pkg/auth/cloud/aws/destinations.go`), sorted, with the path each one
/// opens on the partition's console host. For the `aws` partition every alias yields
/// exactly Atmos's URL; elsewhere the same path on that partition's console.
pub const ALIASES: &[(&str, &str)] = &[
    ("acm", "/acm"),
    ("apigateway", "/apigateway"),
    ("appflow", "/appflow"),
    ("application-discovery", "/discovery"),
    ("appstream", "/appstream2"),
    ("athena", "/athena"),
    ("backup", "/backup"),
    ("batch", "/batch"),
    ("bedrock", "/bedrock"),
    ("billing", "/billing"),
    ("budgets", "/billing/home#/budgets"),
    ("cloud9", "/cloud9"),
    ("cloudformation", "/cloudformation"),
    ("cloudfront", "/cloudfront"),
    ("cloudsearch", "/cloudsearch"),
    ("cloudtrail", "/cloudtrail"),
    ("cloudwatch", "/cloudwatch"),
    ("codeartifact", "/codeartifact"),
    ("codebuild", "/codebuild"),
    ("codecommit", "/codecommit"),
    ("codedeploy", "/codedeploy"),
    ("codepipeline", "/codepipeline"),
    ("cognito", "/cognito"),
    ("comprehend", "/comprehend"),
    ("config", "/config"),
    ("console", "/console/home"),
    ("controltower", "/controltower"),
    ("cost-explorer", "/cost-management/home#/cost-explorer"),
    ("dashboard", "/console/home"),
    ("datasync", "/datasync"),
    ("detective", "/detective"),
    ("directconnect", "/directconnect"),
    ("directory", "/directoryservicev2"),
    ("dms", "/dms"),
    ("documentdb", "/docdb"),
    ("dynamodb", "/dynamodb"),
    ("ec2", "/ec2"),
    ("ecr", "/ecr"),
    ("ecs", "/ecs"),
    ("efs", "/efs"),
    ("eks", "/eks"),
    ("elasticache", "/elasticache"),
    ("elasticbeanstalk", "/elasticbeanstalk"),
    ("elasticsearch", "/aos"),
    ("elb", "/ec2/v2/home#LoadBalancers"),
    ("emr", "/emr"),
    ("eventbridge", "/events"),
    ("fargate", "/ecs"),
    ("forecast", "/forecast"),
    ("fsx", "/fsx"),
    ("glacier", "/glacier"),
    ("globalaccelerator", "/globalaccelerator"),
    ("glue", "/glue"),
    ("greengrass", "/greengrass"),
    ("guardduty", "/guardduty"),
    ("home", "/console/home"),
    ("iam", "/iam"),
    ("inspector", "/inspector"),
    ("iot-analytics", "/iotanalytics"),
    ("iot-core", "/iot"),
    ("iot-events", "/iotevents"),
    ("kendra", "/kendra"),
    ("keyspaces", "/keyspaces"),
    ("kinesis", "/kinesis"),
    ("kms", "/kms"),
    ("lake-formation", "/lakeformation"),
    ("lambda", "/lambda"),
    ("lex", "/lex"),
    ("license-manager", "/license-manager"),
    ("lightsail", "/lightsail"),
    ("macie", "/macie"),
    ("memorydb", "/memorydb"),
    ("migration-hub", "/migrationhub"),
    ("mq", "/amazon-mq"),
    ("msk", "/msk"),
    ("neptune", "/neptune"),
    ("opensearch", "/aos"),
    ("opsworks", "/opsworks"),
    ("organizations", "/organizations"),
    ("personalize", "/personalize"),
    ("polly", "/polly"),
    ("privatelink", "/vpc/home#Endpoints"),
    ("qldb", "/qldb"),
    ("quicksight", "/quicksight"),
    ("rds", "/rds"),
    ("redshift", "/redshift"),
    ("rekognition", "/rekognition"),
    ("resource-groups", "/resource-groups"),
    ("route53", "/route53"),
    ("s3", "/s3"),
    ("sagemaker", "/sagemaker"),
    ("secretsmanager", "/secretsmanager"),
    ("securityhub", "/securityhub"),
    ("server-migration", "/servermigration"),
    ("serverless", "/lambda/home#/applications"),
    ("servicecatalog", "/servicecatalog"),
    ("shield", "/shield"),
    ("sns", "/sns"),
    ("sqs", "/sqs"),
    ("ssm", "/systems-manager"),
    ("sso", "/singlesignon"),
    ("step-functions", "/states"),
    ("systems-manager", "/systems-manager"),
    ("tag-editor", "/resource-groups/tag-editor"),
    ("textract", "/textract"),
    ("timestream", "/timestream"),
    ("transcribe", "/transcribe"),
    ("transfer", "/transfer"),
    ("transitgateway", "/vpc/home#TransitGateways"),
    ("translate", "/translate"),
    ("trusted-advisor", "/trustedadvisor"),
    ("vpc", "/vpc"),
    ("waf", "/wafv2"),
    ("well-architected", "/wellarchitected"),
    ("worklink", "/worklink"),
    ("workspaces", "/workspaces"),
    ("xray", "/xray"),
];

/// `--destination` for an identity in `partition` whose region is `region`: the default
/// console home, an alias, or a checked console URL.
pub fn resolve(given: Option<&str>, partition: Partition, region: &str) -> Result<String, ConsoleError> {
    let given = given.map(str::trim).unwrap_or_default();
    if given.is_empty() {
        return Ok(partition.console_home(region));
    }
    if has_web_scheme(given) {
        return console_url(given, partition);
    }
    let alias = given.to_ascii_lowercase();
    match ALIASES.binary_search_by(|(a, _)| a.cmp(&alias.as_str())) {
        Ok(i) => Ok(format!("https://{}{}", partition.console_host(), ALIASES[i].1)),
        Err(_) => Err(ConsoleError::UnknownAlias {
            given: given.to_string(),
            cloud: crate::auth::Cloud::Aws,
            near: crate::util::suggest::nearest(&alias, ALIASES.iter().map(|(a, _)| *a)),
        }),
    }
}

/// Whether `s` starts with `http://` or `https://` (any case), as Atmos tells a URL from
/// an alias.
pub(super) fn has_web_scheme(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// A URL split into its host (lower case) and what follows the authority (path, query,
/// fragment), after the checks every destination must pass: `http` or `https`, printable
/// ASCII only, no backslash, no user name or password before the host, no port but 443,
/// a host of well-formed DNS labels. `Err` carries why, in words, without the URL.
pub(super) fn split_url(url: &str) -> Result<(String, &str), &'static str> {
    if url.chars().any(|c| !c.is_ascii_graphic()) {
        return Err("it has spaces, control or non-ASCII characters");
    }
    if url.contains('\\') {
        return Err("it has a backslash");
    }
    let (scheme, rest) = url.split_once("://").ok_or("it is not an http(s) URL")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err("it is not an http(s) URL");
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err("it has a user name before the host");
    }
    let host = match authority.rsplit_once(':') {
        Some((h, "443")) => h,
        Some(_) => return Err("it names a port (only 443 is a console's)"),
        None => authority,
    };
    let host = host.to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if host.is_empty() || !host.split('.').all(label_ok) {
        return Err("its host is not a DNS name");
    }
    Ok((host, tail))
}

/// Whether `host` is `base` or a name under it (`us-east-1.console.aws.amazon.com`).
pub(super) fn is_at_or_under(host: &str, base: &str) -> bool {
    host == base || host.strip_suffix(base).is_some_and(|h| h.ends_with('.'))
}

/// A full console URL, checked: on the console host of some partition or a name under it
/// (a region's or a service's console: `us-east-1.console.aws.amazon.com`,
/// `s3.console.aws.amazon.com`), and that partition the identity's. Returned with
/// `https` and the host in lower case (AWS's consoles only serve https; `http` is
/// accepted, as Atmos accepts it, and upgraded).
fn console_url(given: &str, partition: Partition) -> Result<String, ConsoleError> {
    let not_console = |reason: &str, host: Option<String>| ConsoleError::NotConsoleUrl {
        host,
        reason: reason.to_string(),
        cloud: crate::auth::Cloud::Aws,
        expected: partition.console_host().to_string(),
    };
    let (host, tail) = split_url(given).map_err(|r| not_console(r, None))?;
    let Some(of) = Partition::ALL.into_iter().find(|p| is_at_or_under(&host, p.console_host())) else {
        return Err(not_console("is not the host of an AWS console", Some(host)));
    };
    if of != partition {
        return Err(ConsoleError::OtherPartition { host, host_partition: of.name(), partition: partition.name() });
    }
    Ok(format!("https://{host}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(given: &str) -> Result<String, ConsoleError> {
        resolve(Some(given), Partition::Aws, "us-east-2")
    }

    #[test]
    fn the_alias_table_is_atmos_s_sorted_and_unique() {
        assert_eq!(ALIASES.len(), 117, "Atmos has 117 AWS aliases");
        assert!(ALIASES.windows(2).all(|w| w[0].0 < w[1].0), "sorted and unique, for binary search");
        assert!(
            ALIASES.iter().all(|(a, p)| a.bytes().all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit())
                && p.starts_with('/'))
        );
    }

    #[test]
    fn aliases_resolve_to_atmos_s_urls_in_any_case() {
        for (alias, url) in [
            ("s3", "https://console.aws.amazon.com/s3"),
            ("EC2", "https://console.aws.amazon.com/ec2"),
            (" iam ", "https://console.aws.amazon.com/iam"),
            ("ssm", "https://console.aws.amazon.com/systems-manager"),
            ("systems-manager", "https://console.aws.amazon.com/systems-manager"),
            ("waf", "https://console.aws.amazon.com/wafv2"),
            ("documentdb", "https://console.aws.amazon.com/docdb"),
            ("opensearch", "https://console.aws.amazon.com/aos"),
            ("elb", "https://console.aws.amazon.com/ec2/v2/home#LoadBalancers"),
            ("serverless", "https://console.aws.amazon.com/lambda/home#/applications"),
            ("cost-explorer", "https://console.aws.amazon.com/cost-management/home#/cost-explorer"),
            ("budgets", "https://console.aws.amazon.com/billing/home#/budgets"),
            ("home", "https://console.aws.amazon.com/console/home"),
            ("dashboard", "https://console.aws.amazon.com/console/home"),
            ("sso", "https://console.aws.amazon.com/singlesignon"),
        ] {
            assert_eq!(aws(alias).unwrap(), url, "{alias}");
        }
    }

    #[test]
    fn aliases_open_on_the_identity_s_partition_and_the_default_is_its_region_s_home() {
        assert_eq!(
            resolve(Some("s3"), Partition::UsGov, "us-gov-west-1").unwrap(),
            "https://console.amazonaws-us-gov.com/s3"
        );
        assert_eq!(resolve(Some("iam"), Partition::China, "cn-north-1").unwrap(), "https://console.amazonaws.cn/iam");
        assert_eq!(
            resolve(None, Partition::Aws, "eu-west-1").unwrap(),
            "https://console.aws.amazon.com/console/home?region=eu-west-1"
        );
        assert_eq!(
            resolve(Some("  "), Partition::Aws, "eu-west-1").unwrap(),
            "https://console.aws.amazon.com/console/home?region=eu-west-1"
        );
    }

    #[test]
    fn an_unknown_alias_suggests_the_nearest() {
        let Err(ConsoleError::UnknownAlias { near, given, .. }) = aws("s4") else { panic!() };
        assert_eq!((given.as_str(), near.first().map(String::as_str)), ("s4", Some("s3")));
        let Err(ConsoleError::UnknownAlias { near, .. }) = aws("cloudfromation") else { panic!() };
        assert_eq!(near[0], "cloudformation");
        let Err(ConsoleError::UnknownAlias { near, .. }) = aws("zzzzzzzzzzzz") else { panic!() };
        assert!(near.is_empty());
    }

    #[test]
    fn console_urls_of_the_partition_pass_normalised() {
        for (given, want) in [
            ("https://console.aws.amazon.com/lambda", "https://console.aws.amazon.com/lambda"),
            (
                "https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#Instances:",
                "https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#Instances:",
            ),
            ("https://s3.console.aws.amazon.com/s3/buckets", "https://s3.console.aws.amazon.com/s3/buckets"),
            ("HTTPS://Console.AWS.Amazon.com:443/iam/", "https://console.aws.amazon.com/iam/"),
            ("http://console.aws.amazon.com/s3", "https://console.aws.amazon.com/s3"),
            ("https://console.aws.amazon.com", "https://console.aws.amazon.com"),
            ("https://console.aws.amazon.com?region=x", "https://console.aws.amazon.com?region=x"),
        ] {
            assert_eq!(aws(given).unwrap(), want, "{given}");
        }
        assert_eq!(
            resolve(Some("https://console.amazonaws-us-gov.com/s3"), Partition::UsGov, "us-gov-west-1").unwrap(),
            "https://console.amazonaws-us-gov.com/s3"
        );
    }

    #[test]
    fn anything_that_is_not_a_console_of_the_partition_is_refused() {
        for given in [
            "https://evil.example/",
            "https://console.aws.amazon.com.evil.example/s3",
            "https://evilconsole.aws.amazon.com/",
            "https://signin.aws.amazon.com/federation",
            "https://aws.amazon.com/console/",
            "https://docs.aws.amazon.com/",
            "https://console.aws.amazon.com@evil.example/",
            "https://user:pw@console.aws.amazon.com/",
            "https://evil.example\\@console.aws.amazon.com/",
            "https://console.aws.amazon.com:8443/",
            "https://console.aws.amazon.com:/",
            "https://console.aws.amazon.com./",
            "https://-x.console.aws.amazon.com/",
            "https://console.aws.amazon.com/s3 x",
            "https://console.aws.amazon.com/s3\n/x",
            "https://cönsole.aws.amazon.com/",
            "https:///console.aws.amazon.com/",
            "http://",
        ] {
            match aws(given) {
                Err(ConsoleError::NotConsoleUrl { .. }) => {}
                other => panic!("{given:?}: {other:?}"),
            }
        }
        match aws("https://console.amazonaws-us-gov.com/s3") {
            Err(ConsoleError::OtherPartition { host_partition: "aws-us-gov", partition: "aws", .. }) => {}
            other => panic!("{other:?}"),
        }
        match resolve(Some("https://console.aws.amazon.com/"), Partition::China, "cn-north-1") {
            Err(ConsoleError::OtherPartition { host_partition: "aws", partition: "aws-cn", .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refusal_never_repeats_the_query_or_path() {
        let e = aws("https://signin.aws.amazon.com/federation?Action=login&SigninToken=SECRET").unwrap_err();
        let text = format!("{e} {:?} {}", e, e.hint());
        assert!(!text.contains("SECRET") && !text.contains("Action=login"), "{text}");
        assert!(text.contains("signin.aws.amazon.com"), "{text}");
        let e = aws("https://x y/?SigninToken=SECRET").unwrap_err();
        assert!(!format!("{e} {e:?}").contains("SECRET"));
    }
}
