//! ADFS's forms-based sign-in: the `IdpInitiatedSignOn.aspx` page's form, posted with
//! `UserName`, `Password` and `AuthMethod=FormsAuthentication`; ADFS answers with its
//! `MSISAuth` cookie and, on the page it redirects to, the form carrying the
//! `SAMLResponse`. A wrong password is the sign-in page again, with `errorText` set.

use super::web::{self, Web};
use super::{SamlError, Who, form};
use crate::secret::Secret;

/// The `SAMLResponse` ADFS gives for `who`.
pub fn assertion(who: &Who<'_>) -> Result<Secret, SamlError> {
    let mut web = Web::new(who.provider);
    let page = web.get(who.url)?;
    if let Some(f) = form::saml_form(&page.body) {
        // Signed in already (a cookie or integrated sign-in): nothing to post.
        return Ok(Secret::new(f.value("SAMLResponse").unwrap_or_default()));
    }
    let forms = form::forms(&page.body);
    let Some(login) = forms.iter().find(|f| f.has("Password") && f.has("UserName")) else {
        return Err(who.idp(format!(
            "{} answered HTTP {} without a sign-in form (is `url` ADFS's IdpInitiatedSignOn.aspx page for urn:amazon:webservices?)",
            web::strip_query(&page.url),
            page.status
        )));
    };
    let action = web::resolve(&page.url, login.action.as_deref().unwrap_or(""));
    let mut fields: Vec<(&str, &str)> = Vec::new();
    for (name, value) in &login.inputs {
        match name.as_str() {
            n if n.eq_ignore_ascii_case("UserName") => fields.push((name, who.username)),
            n if n.eq_ignore_ascii_case("Password") => fields.push((name, who.password.expose())),
            n if n.eq_ignore_ascii_case("AuthMethod") && value.is_empty() => fields.push((name, "FormsAuthentication")),
            _ => fields.push((name, value)),
        }
    }
    if !login.has("AuthMethod") {
        fields.push(("AuthMethod", "FormsAuthentication"));
    }
    let answer = web.post_form(&action, &fields)?;
    drop(fields);
    if let Some(f) = form::saml_form(&answer.body) {
        return Ok(Secret::new(f.value("SAMLResponse").unwrap_or_default()));
    }
    let again = form::forms(&answer.body).iter().any(|f| f.has("Password"));
    match form::text_of_id(&answer.body, "errorText") {
        Some(text) => Err(who.rejected(
            format!("ADFS refused the sign-in of user `{}`: {text}", who.username),
            who.password_hint(),
        )),
        None if again => Err(who.rejected(
            format!("ADFS showed its sign-in page again for user `{}`", who.username),
            who.password_hint(),
        )),
        None => Err(who.idp(format!(
            "ADFS answered the sign-in with HTTP {} and no SAMLResponse form (multi-factor sign-in is not supported by tfauth yet)",
            answer.status
        ))),
    }
}
