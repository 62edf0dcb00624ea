//! The first day (issue 17.5), under a real pseudo-terminal (`script`) against the SSO
//! stand-in: a command that may sign in runs the device flow on the terminal as `auth
//! login` does; one that only reports (`whoami`) says it does not sign in, and starts no
//! device authorization.

use crate::aws_portal::PortalOpts;
use crate::sso_login::SsoBed;
use crate::support::*;

#[test]
fn first_day_console_signs_in_on_the_terminal_and_whoami_says_why_it_does_not() {
    let b = SsoBed::new(PortalOpts { approve_after_polls: Some(0), slow_down_polls: 0, ..Default::default() }, "");

    // whoami with no session: said as such (not "no terminal"), and no device flow.
    let o = b.pty(&[TFAUTH, "auth", "whoami", "-i", "dev/deployer"]);
    assert_eq!(o.code, 77, "terminal:\n{}", o.stdout);
    assert!(o.stdout.contains("has no IAM Identity Center session"), "terminal:\n{}", o.stdout);
    assert!(o.stdout.contains("this command does not sign in"), "terminal:\n{}", o.stdout);
    assert!(!o.stdout.contains("no terminal"), "terminal:\n{}", o.stdout);
    assert_eq!(b.portal.count("StartDeviceAuthorization"), 0);

    // The console's sign-in URL in a terminal: the device flow runs there, then the
    // federation call (on a closed port here) is what fails.
    let o = b.pty_shell(&format!(
        "TFAUTH_AWS_FEDERATION_URL=http://127.0.0.1:9/federation {TFAUTH} auth console -i dev/deployer --print-only --no-browser"
    ));
    assert_eq!(b.portal.count("StartDeviceAuthorization"), 1, "terminal:\n{}", o.stdout);
    assert!(o.stdout.contains("Signed in."), "terminal:\n{}", o.stdout);
    assert!(!o.stdout.contains("no terminal"), "terminal:\n{}", o.stdout);
    assert!(b.token_file().is_some(), "the token is cached for the next command");

    // Now whoami reports on the session the console's sign-in left.
    let o = b.pty(&[TFAUTH, "auth", "whoami", "-i", "dev/deployer"]);
    assert_eq!(o.code, 0, "terminal:\n{}", o.stdout);
    assert!(o.stdout.contains("assumed-role/Deployer/"), "terminal:\n{}", o.stdout);
    assert_eq!(b.portal.count("StartDeviceAuthorization"), 1, "no second sign-in");
}
