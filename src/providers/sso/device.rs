//! The device authorization flow (RFC 8628): StartDeviceAuthorization, then CreateToken
//! polled with the device code on a schedule until the user approves in the browser.
//!
//! Why it exists: the schedule (poll at once, then every interval, `slow_down` adds 5 s for
//! good, the code's expiry ends the wait) is the subtle part of a login, so it is a loop
//! apart from the network ([`Clock`], and a poll function), tested on a fake clock.
//!
//! What it must not do: print, prompt or open a browser (the caller draws the code and the
//! countdown from [`PollEvent`]s), or sleep longer than [`TICK`] at a time.

use super::call::{OIDC, call, read, required};
use super::endpoints::Endpoints;
use super::error::SsoError;
use super::register::{ClientRegistration, DEVICE_GRANT};
use super::token::{Token, token_from};
use crate::secret::Secret;
use aws_sdk_ssooidc::operation::create_token::CreateTokenError;
use aws_sdk_ssooidc::operation::start_device_authorization::StartDeviceAuthorizationError;
use std::time::{Duration, Instant};

/// How much `slow_down` adds to the polling interval (RFC 8628, section 3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// The polling interval when StartDeviceAuthorization names none (RFC 8628).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// How long a device code lives when StartDeviceAuthorization does not say.
pub const DEFAULT_DEVICE_EXPIRY: Duration = Duration::from_secs(600);

/// The longest single sleep while waiting between polls, so the caller's countdown moves.
const TICK: Duration = Duration::from_secs(1);

/// A pending device authorization (StartDeviceAuthorization): show `user_code` and
/// `verification_uri_complete` to the user, then [`poll_for_token`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAuthorization {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    /// The verification URI with the user code filled in (`verification_uri` if the
    /// service sent none).
    pub verification_uri_complete: String,
    /// How long the device code lives.
    pub expires_in: Duration,
    /// How long to wait between polls.
    pub interval: Duration,
}

/// StartDeviceAuthorization for the portal at `start_url`. An `expiresIn` or `interval`
/// of 0 (or none) is the default ([`DEFAULT_DEVICE_EXPIRY`], [`DEFAULT_INTERVAL`]).
pub fn start_device_authorization(
    ep: &Endpoints,
    reg: &ClientRegistration,
    start_url: &str,
) -> Result<DeviceAuthorization, SsoError> {
    const OP: &str = "StartDeviceAuthorization";
    let sent = call(ep, OIDC, OP, |c| {
        c.oidc
            .start_device_authorization()
            .client_id(&reg.client_id)
            .client_secret(reg.client_secret.expose())
            .start_url(start_url)
            .send()
    })?;
    let out = match sent {
        Ok(out) => out,
        Err(e) => {
            let (err, f) = read(e, OIDC, OP, &ep.oidc, &[&reg.client_secret])?;
            return Err(match err {
                Some(StartDeviceAuthorizationError::InvalidClientException(_)) => {
                    SsoError::InvalidClient { operation: OP, client_id: reg.client_id.clone() }
                }
                _ => f.service_error(OIDC, OP),
            });
        }
    };
    let seconds = |n: i32, default: Duration| if n > 0 { Duration::from_secs(n as u64) } else { default };
    let verification_uri = required(out.verification_uri(), OIDC, OP, "verificationUri")?.to_string();
    Ok(DeviceAuthorization {
        device_code: Secret::new(required(out.device_code(), OIDC, OP, "deviceCode")?),
        user_code: required(out.user_code(), OIDC, OP, "userCode")?.to_string(),
        verification_uri_complete: out
            .verification_uri_complete()
            .filter(|u| !u.is_empty())
            .map_or_else(|| verification_uri.clone(), str::to_string),
        verification_uri,
        expires_in: seconds(out.expires_in(), DEFAULT_DEVICE_EXPIRY),
        interval: seconds(out.interval(), DEFAULT_INTERVAL),
    })
}

/// What the polling loop tells its caller, to draw a countdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollEvent {
    /// Still waiting for the user; the device code expires in `remaining`. Sent about
    /// once a second.
    Waiting { remaining: Duration },
    /// The service asked to poll less often; polls are now `new_interval` apart.
    SlowDown { new_interval: Duration },
}

/// Time, for the polling loop: the real one in use, a fake in tests.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Instant;
    /// Waits `duration` (a fake clock just moves on).
    fn sleep(&mut self, duration: Duration);
}

/// The real clock: `Instant::now` and `std::thread::sleep`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn sleep(&mut self, duration: Duration) {
        std::thread::sleep(duration)
    }
}

/// One poll's outcome, when it is not an error.
enum Poll {
    Token(Token),
    Pending,
    SlowDown,
}

/// Polls CreateToken with the device code until the user approves, on the real clock.
/// See [`poll_for_token_with`].
pub fn poll_for_token(
    ep: &Endpoints,
    reg: &ClientRegistration,
    auth: &DeviceAuthorization,
    observer: &mut dyn FnMut(PollEvent),
) -> Result<Token, SsoError> {
    poll_for_token_with(ep, reg, auth, &mut SystemClock, observer)
}

/// Polls CreateToken (the device-code grant) until the user approves: the first poll at
/// once, then `interval` apart (RFC 8628). `authorization_pending` keeps polling;
/// `slow_down` (or HTTP 429) adds 5 s to the interval; `expired_token`, or the device code
/// outliving `expires_in` counted from this call, is [`SsoError::LoginTimedOut`];
/// `access_denied` is [`SsoError::AccessDenied`].
pub fn poll_for_token_with(
    ep: &Endpoints,
    reg: &ClientRegistration,
    auth: &DeviceAuthorization,
    clock: &mut dyn Clock,
    observer: &mut dyn FnMut(PollEvent),
) -> Result<Token, SsoError> {
    poll_loop(auth.expires_in, auth.interval, clock, observer, &mut || poll_once(ep, reg, &auth.device_code))
}

fn poll_once(ep: &Endpoints, reg: &ClientRegistration, device_code: &Secret) -> Result<Poll, SsoError> {
    const OP: &str = "CreateToken";
    let sent = call(ep, OIDC, OP, |c| {
        c.oidc
            .create_token()
            .client_id(&reg.client_id)
            .client_secret(reg.client_secret.expose())
            .grant_type(DEVICE_GRANT)
            .device_code(device_code.expose())
            .send()
    })?;
    let e = match sent {
        Ok(out) => return token_from(&out, OP).map(Poll::Token),
        Err(e) => e,
    };
    let (err, f) = read(e, OIDC, OP, &ep.oidc, &[&reg.client_secret, device_code])?;
    match err {
        Some(CreateTokenError::AuthorizationPendingException(_)) => Ok(Poll::Pending),
        Some(CreateTokenError::SlowDownException(_)) => Ok(Poll::SlowDown),
        // A 429 while a human is reading a code is a request to poll less often.
        _ if f.throttled() => Ok(Poll::SlowDown),
        Some(CreateTokenError::ExpiredTokenException(_)) => Err(SsoError::LoginTimedOut),
        Some(CreateTokenError::AccessDeniedException(_)) => Err(SsoError::AccessDenied),
        Some(CreateTokenError::InvalidClientException(_)) => {
            Err(SsoError::InvalidClient { operation: OP, client_id: reg.client_id.clone() })
        }
        // The same errors as OAuth bodies alone (RFC 8628 section 3.5).
        _ if f.is_oauth("authorization_pending") => Ok(Poll::Pending),
        _ if f.is_oauth("slow_down") => Ok(Poll::SlowDown),
        _ if f.is_oauth("expired_token") => Err(SsoError::LoginTimedOut),
        _ if f.is_oauth("access_denied") => Err(SsoError::AccessDenied),
        _ if f.is_oauth("invalid_client") => {
            Err(SsoError::InvalidClient { operation: OP, client_id: reg.client_id.clone() })
        }
        _ => Err(f.service_error(OIDC, OP)),
    }
}

/// The polling schedule, apart from the network: `poll` at once, then every `interval`
/// (at least 1 s), sleeping in ticks of at most [`TICK`] and telling `observer` each time.
fn poll_loop(
    expires_in: Duration,
    interval: Duration,
    clock: &mut dyn Clock,
    observer: &mut dyn FnMut(PollEvent),
    poll: &mut dyn FnMut() -> Result<Poll, SsoError>,
) -> Result<Token, SsoError> {
    let deadline = clock.now() + expires_in;
    let mut interval = interval.max(Duration::from_secs(1));
    loop {
        if clock.now() >= deadline {
            return Err(SsoError::LoginTimedOut);
        }
        match poll()? {
            Poll::Token(t) => return Ok(t),
            Poll::Pending => {}
            Poll::SlowDown => {
                interval += SLOW_DOWN_STEP;
                observer(PollEvent::SlowDown { new_interval: interval });
            }
        }
        let next = clock.now() + interval;
        loop {
            let now = clock.now();
            if now >= next {
                break;
            }
            let remaining = deadline.saturating_duration_since(now);
            if remaining.is_zero() {
                return Err(SsoError::LoginTimedOut);
            }
            observer(PollEvent::Waiting { remaining });
            clock.sleep(TICK.min(next - now).min(remaining));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::sso::test_support::t;
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    /// A clock that only moves when slept on, recording the sleeps.
    struct FakeClock {
        base: Instant,
        elapsed: Rc<Cell<Duration>>,
        sleeps: Rc<RefCell<Vec<Duration>>>,
    }

    impl FakeClock {
        fn new() -> FakeClock {
            FakeClock { base: Instant::now(), elapsed: Rc::default(), sleeps: Rc::default() }
        }
    }

    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            self.base + self.elapsed.get()
        }
        fn sleep(&mut self, d: Duration) {
            self.sleeps.borrow_mut().push(d);
            self.elapsed.set(self.elapsed.get() + d);
        }
    }

    fn token() -> Token {
        Token { access_token: Secret::new("a"), expires_at: t("2030-01-01T00:00:00Z"), refresh_token: None }
    }

    #[derive(Clone, Copy, Debug)]
    enum Step {
        Pending,
        SlowDown,
        Done,
        Denied,
    }

    /// Runs the loop over scripted answers; returns the result, the (fake) seconds at which
    /// each poll happened, and the events.
    fn schedule(
        steps: &[Step],
        expires_in: u64,
        interval: u64,
    ) -> (Result<Token, SsoError>, Vec<f64>, Vec<PollEvent>, Vec<Duration>) {
        let mut clock = FakeClock::new();
        let elapsed = clock.elapsed.clone();
        let sleeps = clock.sleeps.clone();
        let mut at = Vec::new();
        let mut events = Vec::new();
        let mut script = steps.iter().copied();
        let result = poll_loop(
            Duration::from_secs(expires_in),
            Duration::from_secs(interval),
            &mut clock,
            &mut |e| events.push(e),
            &mut || {
                at.push(elapsed.get().as_secs_f64());
                match script.next().unwrap_or(Step::Pending) {
                    Step::Pending => Ok(Poll::Pending),
                    Step::SlowDown => Ok(Poll::SlowDown),
                    Step::Done => Ok(Poll::Token(token())),
                    Step::Denied => Err(SsoError::AccessDenied),
                }
            },
        );
        let sleeps = sleeps.borrow().clone();
        (result, at, events, sleeps)
    }

    #[test]
    fn polls_at_once_then_every_interval() {
        use Step::*;
        let (r, at, events, sleeps) = schedule(&[Pending, Pending, Done], 600, 2);
        assert_eq!(r.unwrap(), token());
        assert_eq!(at, [0.0, 2.0, 4.0]);
        assert!(sleeps.iter().all(|s| *s <= TICK), "{sleeps:?}");
        // One Waiting per tick, counting down to the device code's expiry.
        let remaining: Vec<u64> = events
            .iter()
            .map(|e| match e {
                PollEvent::Waiting { remaining } => remaining.as_secs(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(remaining, [600, 599, 598, 597]);
    }

    #[test]
    fn slow_down_adds_five_seconds_for_good() {
        use Step::*;
        let (r, at, events, _) = schedule(&[Pending, SlowDown, Pending, SlowDown, Done], 600, 1);
        assert!(r.is_ok());
        // 1 s, then 6 s after the first slow_down, 11 s after the second.
        assert_eq!(at, [0.0, 1.0, 7.0, 13.0, 24.0]);
        let slow: Vec<PollEvent> = events.into_iter().filter(|e| matches!(e, PollEvent::SlowDown { .. })).collect();
        assert_eq!(
            slow,
            [
                PollEvent::SlowDown { new_interval: Duration::from_secs(6) },
                PollEvent::SlowDown { new_interval: Duration::from_secs(11) }
            ]
        );
    }

    #[test]
    fn an_interval_of_zero_still_waits_a_second() {
        let (_, at, _, _) = schedule(&[Step::Pending, Step::Pending, Step::Done], 600, 0);
        assert_eq!(at, [0.0, 1.0, 2.0]);
    }

    #[test]
    fn the_device_code_expiring_ends_the_wait_without_another_poll() {
        let (r, at, events, sleeps) = schedule(&[], 5, 2);
        assert!(matches!(r, Err(SsoError::LoginTimedOut)), "{r:?}");
        assert_eq!(at, [0.0, 2.0, 4.0], "no poll at 6 s: the code died at 5 s");
        assert_eq!(sleeps.iter().sum::<Duration>(), Duration::from_secs(5));
        assert_eq!(events.last(), Some(&PollEvent::Waiting { remaining: Duration::from_secs(1) }));
        // A code that is already dead is not polled at all.
        let (r, at, _, _) = schedule(&[Step::Done], 0, 1);
        assert!(matches!(r, Err(SsoError::LoginTimedOut)));
        assert!(at.is_empty());
    }

    #[test]
    fn errors_end_the_loop_at_once() {
        let (r, at, _, sleeps) = schedule(&[Step::Pending, Step::Denied, Step::Done], 600, 1);
        assert!(matches!(r, Err(SsoError::AccessDenied)), "{r:?}");
        assert_eq!(at, [0.0, 1.0]);
        assert_eq!(sleeps.iter().sum::<Duration>(), Duration::from_secs(1));
    }
}
