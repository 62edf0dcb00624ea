//! Reading a `SAMLResponse`: base64, then XML by namespace (IdPs write `samlp:`/`saml:`,
//! pysaml2 writes `ns0:`/`ns1:`; only the namespace URI counts), then the AWS attributes:
//! the `Role` pairs (either order) and `SessionDuration`. The assertion itself stays a
//! [`Secret`]: this reads it, never keeps or prints it.
//!
//! What it must not do: check signatures (STS does, against the IdP's metadata), fetch
//! anything a document points at, or accept a DTD (roxmltree refuses one by default, so no
//! entity expansion either).

use super::SamlError;
use crate::secret::Secret;

const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const ROLE_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/Role";
pub const SESSION_DURATION_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/SessionDuration";

/// One value of the `Role` attribute: a role and the SAML provider AWS trusts for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolePair {
    pub role: String,
    pub principal: String,
}

/// What tfauth needs of an assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    /// In the order the IdP wrote them.
    pub roles: Vec<RolePair>,
    /// The `SessionDuration` attribute, in seconds, when the IdP sends one.
    pub session_secs: Option<u64>,
}

/// Decodes and reads `response` (the form's `SAMLResponse` value, base64).
pub fn read(response: &Secret) -> Result<Assertion, SamlError> {
    let compact: String = response.expose().chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = aws_smithy_types::base64::decode(&compact).map_err(|_| bad("it is not base64"))?;
    let xml = String::from_utf8(bytes).map_err(|_| bad("it is not UTF-8 text"))?;
    read_xml(&xml)
}

fn bad(why: &str) -> SamlError {
    SamlError::Assertion { problem: why.to_string() }
}

/// Reads the decoded XML of a `Response`.
pub fn read_xml(xml: &str) -> Result<Assertion, SamlError> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| bad(&format!("it is not XML ({e})")))?;
    let root = doc.root_element();
    if !(root.tag_name().namespace() == Some(PROTOCOL_NS) && root.tag_name().name() == "Response") {
        return Err(bad("its root is not a SAML 2.0 protocol Response"));
    }
    // The status, when given, must be Success (an IdP may answer a refusal this way).
    if let Some(code) = root
        .descendants()
        .find(|n| n.tag_name().namespace() == Some(PROTOCOL_NS) && n.tag_name().name() == "StatusCode")
        .and_then(|n| n.attribute("Value"))
        && !code.ends_with(":Success")
    {
        return Err(bad(&format!("the IdP's status is {code}")));
    }
    let attribute_values = |name: &str| -> Vec<String> {
        root.descendants()
            .filter(|n| {
                n.tag_name().namespace() == Some(ASSERTION_NS)
                    && n.tag_name().name() == "Attribute"
                    && n.attribute("Name") == Some(name)
            })
            .flat_map(|a| {
                a.children()
                    .filter(|v| {
                        v.tag_name().namespace() == Some(ASSERTION_NS) && v.tag_name().name() == "AttributeValue"
                    })
                    .map(|v| v.descendants().filter(|t| t.is_text()).filter_map(|t| t.text()).collect::<String>())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let mut roles = Vec::new();
    for value in attribute_values(ROLE_ATTRIBUTE) {
        let parts: Vec<&str> = value.split(',').map(str::trim).collect();
        let pair = match parts.as_slice() {
            [a, b] if is_principal(a) && is_role(b) => RolePair { role: b.to_string(), principal: a.to_string() },
            [a, b] if is_role(a) && is_principal(b) => RolePair { role: a.to_string(), principal: b.to_string() },
            _ => return Err(bad(&format!("a Role value is `{value}`, not a role ARN and a saml-provider ARN"))),
        };
        if !roles.contains(&pair) {
            roles.push(pair);
        }
    }
    if roles.is_empty() {
        return Err(bad(&format!("it has no {ROLE_ATTRIBUTE} attribute (the IdP's AWS app grants no role)")));
    }
    let session_secs = match attribute_values(SESSION_DURATION_ATTRIBUTE).first() {
        None => None,
        Some(v) => {
            Some(v.trim().parse::<u64>().map_err(|_| bad(&format!("its SessionDuration is `{v}`, not seconds")))?)
        }
    };
    Ok(Assertion { roles, session_secs })
}

fn is_role(s: &str) -> bool {
    s.starts_with("arn:") && s.split(':').nth(5).is_some_and(|r| r.starts_with("role/"))
}

fn is_principal(s: &str) -> bool {
    s.starts_with("arn:") && s.split(':').nth(5).is_some_and(|r| r.starts_with("saml-provider/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE_A: &str = "arn:aws:iam::111111111111:role/admin";
    const ROLE_B: &str = "arn:aws:iam::222222222222:role/read";
    const IDP_A: &str = "arn:aws:iam::111111111111:saml-provider/acme";
    const IDP_B: &str = "arn:aws:iam::222222222222:saml-provider/acme";

    /// A Response with pysaml2's prefixes (`ns0:` protocol, `ns1:` assertion).
    fn response(values: &[&str], duration: Option<&str>) -> String {
        let vals: String = values
            .iter()
            .map(|v| format!("<ns1:AttributeValue xsi:type=\"xs:string\">{v}</ns1:AttributeValue>"))
            .collect();
        let dur = duration
            .map(|d| format!("<ns1:Attribute Name=\"{SESSION_DURATION_ATTRIBUTE}\"><ns1:AttributeValue>{d}</ns1:AttributeValue></ns1:Attribute>"))
            .unwrap_or_default();
        format!(
            r#"<?xml version="1.0"?><ns0:Response xmlns:ns0="{PROTOCOL_NS}" xmlns:ns1="{ASSERTION_NS}" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="r1" Version="2.0"><ns0:Status><ns0:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></ns0:Status><ns1:Assertion ID="a1"><ns1:AttributeStatement><ns1:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName"><ns1:AttributeValue>jane</ns1:AttributeValue></ns1:Attribute><ns1:Attribute Name="{ROLE_ATTRIBUTE}">{vals}</ns1:Attribute>{dur}</ns1:AttributeStatement></ns1:Assertion></ns0:Response>"#
        )
    }

    fn b64(s: &str) -> Secret {
        Secret::new(aws_smithy_types::base64::encode(s.as_bytes()))
    }

    #[test]
    fn role_pairs_are_read_in_either_order_with_the_session_duration() {
        let xml = response(&[&format!("{ROLE_A},{IDP_A}"), &format!("{IDP_B}, {ROLE_B}")], Some("7200"));
        let a = read(&b64(&xml)).unwrap();
        assert_eq!(
            a.roles,
            vec![
                RolePair { role: ROLE_A.into(), principal: IDP_A.into() },
                RolePair { role: ROLE_B.into(), principal: IDP_B.into() }
            ]
        );
        assert_eq!(a.session_secs, Some(7200));
        assert_eq!(read(&b64(&response(&[&format!("{ROLE_A},{IDP_A}")], None))).unwrap().session_secs, None);
    }

    #[test]
    fn the_usual_prefixes_read_the_same_and_line_broken_base64_is_fine() {
        let xml = response(&[&format!("{IDP_A},{ROLE_A}")], None).replace("ns0:", "samlp:").replace("ns1:", "saml:");
        let xml = xml.replace("xmlns:ns0=", "xmlns:samlp=").replace("xmlns:ns1=", "xmlns:saml=");
        let encoded = aws_smithy_types::base64::encode(xml.as_bytes());
        let wrapped: String =
            encoded.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("\r\n");
        assert_eq!(read(&Secret::new(wrapped)).unwrap().roles[0].role, ROLE_A);
    }

    #[test]
    fn a_role_attribute_in_another_namespace_is_not_the_one() {
        let xml = response(&[&format!("{ROLE_A},{IDP_A}")], None)
            .replace(&format!("xmlns:ns1=\"{ASSERTION_NS}\""), "xmlns:ns1=\"urn:example:other\"");
        let e = read_xml(&xml).unwrap_err().to_string();
        assert!(e.contains("not a SAML 2.0 protocol Response") || e.contains("no https://aws.amazon.com"), "{e}");
    }

    #[test]
    fn malformed_answers_are_refused_saying_why() {
        let cases: Vec<(Secret, &str)> = vec![
            (Secret::new("not base64!!"), "not base64"),
            (b64("<html>sign in</html>"), "not a SAML 2.0 protocol Response"),
            (b64("<ns0:Response"), "not XML"),
            (b64(&response(&[], None)), "no https://aws.amazon.com/SAML/Attributes/Role attribute"),
            (b64(&response(&["arn:aws:iam::1:user/x,arn:aws:iam::1:saml-provider/p"], None)), "a Role value is"),
            (b64(&response(&[&format!("{ROLE_A},{IDP_A}")], Some("1h"))), "SessionDuration is `1h`"),
            (
                b64(&response(&[&format!("{ROLE_A},{IDP_A}")], None).replace("status:Success", "status:Requester")),
                "status is urn:oasis:names:tc:SAML:2.0:status:Requester",
            ),
            (b64("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>"), "not XML"),
        ];
        for (input, want) in cases {
            let e = read(&input).unwrap_err().to_string();
            assert!(e.contains(want), "{e} / {want}");
        }
    }
}
