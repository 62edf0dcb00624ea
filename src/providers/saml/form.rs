//! The HTML forms of an IdP's pages: the ADFS sign-in form, and the auto-posting form
//! whose `SAMLResponse` input carries the assertion. A small parser, not a browser: it
//! finds `<form>` elements and their `<input>`s (attributes quoted either way or bare,
//! entities decoded), skips comments, `<script>` and `<style>`, and ignores everything
//! else. It never runs or fetches anything.

/// One `<form>`: its attributes and inputs, in document order. Its `Debug` names the
/// inputs but never shows their values: one of them is the SAML assertion.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Form {
    pub id: Option<String>,
    pub action: Option<String>,
    pub method: Option<String>,
    pub inputs: Vec<(String, String)>,
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Form")
            .field("id", &self.id)
            .field("action", &self.action.as_deref().map(super::web::strip_query))
            .field("method", &self.method)
            .field("inputs", &self.inputs.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

impl Form {
    /// The value of input `name` (the first one).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.inputs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
    pub fn has(&self, name: &str) -> bool {
        self.inputs.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

/// Every form of `html`. An `<input>` outside any form is not kept.
pub fn forms(html: &str) -> Vec<Form> {
    let mut out: Vec<Form> = Vec::new();
    let mut open = false;
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |e| &after[e + 3..]);
            continue;
        }
        let Some((name, attrs, end)) = tag(rest) else {
            rest = &rest[1..];
            continue;
        };
        rest = &rest[end..];
        match name.as_str() {
            "script" | "style" => {
                let close = format!("</{name}");
                rest = find_ci(rest, &close).map_or("", |i| &rest[i..]);
            }
            "form" => {
                open = true;
                let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                out.push(Form { id: get("id"), action: get("action"), method: get("method"), inputs: Vec::new() });
            }
            "/form" => open = false,
            "input" | "button" | "textarea" | "select" if open => {
                if let Some(n) = attrs.iter().find(|(k, _)| k == "name").map(|(_, v)| v.clone()) {
                    let v = attrs.iter().find(|(k, _)| k == "value").map(|(_, v)| v.clone()).unwrap_or_default();
                    if name == "input" || name == "textarea" || name == "select" {
                        out.last_mut().expect("a form is open").inputs.push((n, v));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The form that carries a `SAMLResponse`, if the page has one.
pub fn saml_form(html: &str) -> Option<Form> {
    forms(html).into_iter().find(|f| f.value("SAMLResponse").is_some_and(|v| !v.trim().is_empty()))
}

fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    hay.to_ascii_lowercase().find(&needle.to_ascii_lowercase())
}

/// A tag's attributes: lower-case names, decoded values, in document order.
type Attributes = Vec<(String, String)>;

/// The tag at the start of `s` (`<name attr=...>`): its lower-case name (`/name` for a
/// closing tag), attributes (lower-case names, decoded values) and the byte after `>`.
fn tag(s: &str) -> Option<(String, Attributes, usize)> {
    let b = s.as_bytes();
    let mut i = 1;
    let closing = b.get(1) == Some(&b'/');
    if closing {
        i += 1;
    }
    let start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
        i += 1;
    }
    if i == start {
        return None;
    }
    let mut name = s[start..i].to_ascii_lowercase();
    if closing {
        name.insert(0, '/');
    }
    let mut attrs = Vec::new();
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        if i >= b.len() {
            return None;
        }
        if b[i] == b'>' {
            return Some((name, attrs, i + 1));
        }
        let k0 = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let key = s[k0..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if b.get(i) == Some(&b'=') {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            match b.get(i) {
                Some(q @ (b'"' | b'\'')) => {
                    let end = s[i + 1..].find(*q as char)? + i + 1;
                    value = decode(&s[i + 1..end]);
                    i = end + 1;
                }
                Some(_) => {
                    let v0 = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                    value = decode(&s[v0..i]);
                }
                None => return None,
            }
        }
        if !key.is_empty() {
            attrs.push((key, value));
        }
    }
}

/// HTML character references: the five named ones XML has, `&nbsp;`, and numeric ones.
pub fn decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            e if e.starts_with("#x") || e.starts_with("#X") => {
                u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32)
            }
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text of the element with `id` (ADFS's `errorText` label), tags stripped, blanks
/// collapsed; `None` when it is absent or empty.
pub fn text_of_id(html: &str, id: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let at = [format!("id=\"{id}\""), format!("id='{id}'"), format!("id={id}")]
        .iter()
        .find_map(|p| lower.find(&p.to_ascii_lowercase()))?;
    let open_end = html[at..].find('>')? + at + 1;
    let close = html[open_end..].find("</")? + open_end;
    let text = decode(&html[open_end..close]);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auto_posting_form_gives_its_saml_response_whatever_the_quoting() {
        let html = r#"<html><body onload="document.forms[0].submit()">
          <!-- <form action="https://evil.example"><input name="SAMLResponse" value="fake"></form> -->
          <script>var s = "<form><input name='SAMLResponse' value='nope'></form>";</script>
          <FORM method=POST ACTION="https://signin.aws.amazon.com/saml">
            <input type="hidden" name='SAMLResponse' value="PHNhbWw+&#x2B;/&#61;=" />
            <INPUT TYPE=hidden NAME=RelayState VALUE=>
            <noscript><input type="submit" value="Continue"></noscript>
          </FORM></body></html>"#;
        let f = saml_form(html).unwrap();
        assert_eq!(f.value("SAMLResponse"), Some("PHNhbWw++/=="));
        assert_eq!(f.value("RelayState"), Some(""));
        assert_eq!(f.action.as_deref(), Some("https://signin.aws.amazon.com/saml"));
        assert_eq!(f.method.as_deref(), Some("POST"));
        assert_eq!(forms(html).len(), 1, "the commented and scripted forms are not forms");
    }

    #[test]
    fn a_page_without_an_assertion_has_no_saml_form() {
        assert_eq!(saml_form("<form><input name=SAMLResponse value=''></form>"), None);
        assert_eq!(saml_form("<html>Sign in</html>"), None);
        assert_eq!(saml_form("<input name=SAMLResponse value=abc>"), None, "outside a form");
    }

    #[test]
    fn the_adfs_sign_in_form_and_its_error_label_are_read() {
        let html = r#"<form method="post" id="loginForm" autocomplete="off" novalidate="novalidate"
              action="/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:amazon:webservices&amp;client-request-id=ab-1">
            <input id="userNameInput" name="UserName" type="email" value="" />
            <input id="passwordInput" name="Password" type="password" />
            <input id="optionForms" type="hidden" name="AuthMethod" value="FormsAuthentication"/>
            <span id="submitButton" class="submit">Sign in</span></form>
            <label id="errorText" for="">Incorrect user ID or password. Type the correct user ID and password, and try again.</label>"#;
        let f = &forms(html)[0];
        assert_eq!(f.id.as_deref(), Some("loginForm"));
        assert_eq!(
            f.action.as_deref(),
            Some("/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:amazon:webservices&client-request-id=ab-1")
        );
        assert_eq!(
            f.inputs,
            vec![
                ("UserName".to_string(), String::new()),
                ("Password".to_string(), String::new()),
                ("AuthMethod".to_string(), "FormsAuthentication".to_string())
            ]
        );
        assert!(text_of_id(html, "errorText").unwrap().starts_with("Incorrect user ID or password."));
        assert_eq!(text_of_id("<label id=\"errorText\" for=\"\"></label>", "errorText"), None);
    }

    #[test]
    fn entities_decode_and_broken_ones_stay_as_written() {
        assert_eq!(decode("a&amp;b&lt;&#65;&#x42;&quot;"), "a&b<AB\"");
        assert_eq!(decode("AT&T &bogus; &#xZZ; &"), "AT&T &bogus; &#xZZ; &");
    }

    #[test]
    fn debug_names_the_inputs_but_never_their_values() {
        let f = &forms(
            r#"<form action="https://signin.aws.amazon.com/saml?x=1"><input name="SAMLResponse" value="c2VjcmV0"></form>"#,
        )[0];
        let shown = format!("{f:?}");
        assert!(shown.contains("SAMLResponse") && !shown.contains("c2VjcmV0") && !shown.contains("x=1"), "{shown}");
    }
}
