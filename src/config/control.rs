//! takebox's own `control` section: the board's daemon, its recorders, its
//! button and LEDs.

use super::Config;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The board's daemon (`takebox-control`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlSettings {
    pub listen: SocketAddr,
    /// Recorders' base URLs (`http://host:port`); empty: the seed's `recording_computer_url`.
    pub recorders: Vec<String>,
    /// Bearer token for the recorders and the board's JSON API; empty: `capture.token`.
    /// The `TAKEBOX_TOKEN` environment variable overrides both.
    pub token: String,
    pub instruments_file: PathBuf,
    /// Session progress lives here (`sessions/<id>.json`).
    pub state_dir: PathBuf,
    /// Where root's updater keeps its status and log and takes uploaded
    /// bundles from (`incoming/`, the only part this daemon writes); none:
    /// `state_dir/update`. The image's is root's own `/var/lib/takebox-update`:
    /// inside `state_dir` this daemon could swap root's folder for its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_dir: Option<PathBuf>,
    /// Empty: the page needs no password. The `TAKEBOX_PAGE_PASSWORD`
    /// environment variable overrides it (the image sets it at first boot).
    pub page_password: String,
    /// What the page password guards: the whole page (`page`), or only
    /// Settings and Abort (`settings_and_abort`: taking stays one tap).
    #[serde(skip_serializing_if = "PasswordGuards::is_page")]
    pub password_guards: PasswordGuards,
    /// Names the board answers to besides its hostname, `hostname.local`,
    /// `localhost` and its addresses (a DNS alias); any other Host gets 421.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub host_names: Vec<String>,
    /// Connecting to a recorder and waiting for its status.
    pub request_timeout_seconds: f64,
    /// Added to a take's countdown and duration before a take request times out.
    pub take_timeout_seconds: f64,
    pub max_connections: usize,
    /// The start button and the LEDs (`control::gpio`).
    pub gpio: GpioSettings,
    /// What the cycle does after a take the board warns about (silent, off
    /// pitch, clipped, noisy, not on the share yet).
    pub on_warning: OnWarning,
    /// Sessions nobody attends (a MIDI instrument's, or asked for with
    /// `unattended`): which flagged takes are recorded again, how often.
    pub unattended: UnattendedSettings,
}

/// `control.unattended`: a take flagged for a reason a second pass can fix
/// (no onset, an onset far off `start_at`, an xrun, silent) is recorded again
/// under a new take id, at most `retakes` times; then it stays flagged and the
/// session goes on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnattendedSettings {
    /// Attempts after the first, per slot (0: none).
    pub retakes: u32,
    /// A MIDI take whose sound starts further than this from `start_at`
    /// (after calibration) is flagged, ms.
    pub onset_tolerance_ms: f64,
}

impl Default for UnattendedSettings {
    fn default() -> Self {
        UnattendedSettings {
            retakes: 2,
            onset_tolerance_ms: 20.0,
        }
    }
}

/// `control.on_warning`: a take with a warning never slips by unnoticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnWarning {
    /// Record the same slot again at once, saying why.
    Retake,
    /// Stop (auto-advance too) and ask: Retake records it again, Resume goes on.
    #[default]
    Pause,
    /// Keep the take and go on as with an ok one.
    Continue,
}

impl OnWarning {
    pub const ALL: [OnWarning; 3] = [OnWarning::Retake, OnWarning::Pause, OnWarning::Continue];

    pub fn name(self) -> &'static str {
        match self {
            OnWarning::Retake => "retake",
            OnWarning::Pause => "pause",
            OnWarning::Continue => "continue",
        }
    }

    pub fn parse(s: &str) -> Option<OnWarning> {
        OnWarning::ALL.into_iter().find(|w| w.name() == s)
    }
}

/// `control.password_guards`: what needs the page password when one is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordGuards {
    /// Every page and the live status (the login comes first).
    #[default]
    Page,
    /// Settings (which can turn on deleting old recordings) and Abort; the
    /// status, Initiate, Start and the take list stay open on the LAN.
    SettingsAndAbort,
}

impl PasswordGuards {
    pub fn is_page(&self) -> bool {
        *self == PasswordGuards::Page
    }
}

/// A GPIO line: an offset on the chip, or a line name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LineId {
    Offset(u32),
    Name(String),
}

impl std::fmt::Display for LineId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineId::Offset(o) => write!(f, "offset {o}"),
            LineId::Name(n) => write!(f, "{n:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpioLine {
    pub line: LineId,
    #[serde(default)]
    pub active_low: bool,
}

impl GpioLine {
    pub(super) fn at(offset: u32, active_low: bool) -> GpioLine {
        GpioLine {
            line: LineId::Offset(offset),
            active_low,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpioBackend {
    None,
    Sim,
    Chardev,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpioBias {
    PullUp,
    PullDown,
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PressDuringTake {
    Ignore,
    Abort,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountdownStyle {
    /// One countdown LED per remaining second.
    PerSecond,
    /// The status LED blinks each second, faster in the last one.
    SingleBlink,
}

/// `control.gpio`: defaults fit the Khadas VIM3 header (README, Button and LEDs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpioSettings {
    pub backend: GpioBackend,
    /// A path (`/dev/gpiochip1`) or a chip label (`periphs-banks`).
    pub chip: String,
    /// Wired to ground: active low with the pull-up.
    pub button: GpioLine,
    pub bias: GpioBias,
    pub debounce_ms: u32,
    pub long_press_ms: u32,
    pub press_during_take: PressDuringTake,
    pub countdown_style: CountdownStyle,
    /// Recording, confirmations, warnings, recorder down, heartbeat.
    pub status_led: GpioLine,
    /// One per second of the countdown, the first lit longest.
    pub countdown_leds: Vec<GpioLine>,
}

impl Default for GpioSettings {
    fn default() -> Self {
        GpioSettings {
            backend: GpioBackend::None,
            chip: "periphs-banks".into(),
            button: GpioLine::at(20, true),
            bias: GpioBias::PullUp,
            debounce_ms: 20,
            long_press_ms: 1500,
            press_during_take: PressDuringTake::Ignore,
            countdown_style: CountdownStyle::PerSecond,
            status_led: GpioLine::at(21, false),
            countdown_leds: vec![
                GpioLine::at(22, false),
                GpioLine::at(23, false),
                GpioLine::at(49, false),
            ],
        }
    }
}

impl Default for ControlSettings {
    fn default() -> Self {
        ControlSettings {
            listen: SocketAddr::from(([0, 0, 0, 0], 5000)),
            recorders: Vec::new(),
            token: String::new(),
            instruments_file: PathBuf::from("instruments.json"),
            state_dir: PathBuf::from("/var/lib/takebox"),
            update_dir: None,
            page_password: String::new(),
            password_guards: PasswordGuards::default(),
            host_names: Vec::new(),
            request_timeout_seconds: 2.0,
            take_timeout_seconds: 30.0,
            max_connections: 64,
            gpio: GpioSettings::default(),
            on_warning: OnWarning::default(),
            unattended: UnattendedSettings::default(),
        }
    }
}

impl ControlSettings {
    /// `update_dir`, else `state_dir/update`.
    pub fn update_dir(&self) -> PathBuf {
        self.update_dir
            .clone()
            .unwrap_or_else(|| self.state_dir.join("update"))
    }

    /// The recorders to drive: `control.recorders`, else the seed's URL.
    pub fn recorder_urls<'a>(&'a self, config: &'a Config) -> Vec<&'a str> {
        if self.recorders.is_empty() {
            vec![config.recording_computer_url.as_str()]
        } else {
            self.recorders.iter().map(String::as_str).collect()
        }
    }

    /// The token control sends and accepts.
    pub fn effective_token<'a>(&'a self, config: &'a Config) -> &'a str {
        if self.token.is_empty() {
            &config.capture.token
        } else {
            &self.token
        }
    }
}

/// A name in `control.host_names`: a DNS name (labels of letters, digits and
/// `-`, at most 253 characters) or an IP address, without a port.
pub fn check_host_name(name: &str) -> Result<(), HostNameError> {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let bare = name.strip_suffix('.').unwrap_or(name);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if bare.is_empty() || bare.len() > 253 || !bare.split('.').all(label_ok) {
        return Err(HostNameError(name.to_string()));
    }
    Ok(())
}

/// A `control.host_names` entry that is neither a DNS name nor an IP address.
#[derive(Debug, Clone, PartialEq)]
pub struct HostNameError(pub String);

impl std::fmt::Display for HostNameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "expected a host name such as \"studio-board.lan\" or an IP address (no port, no scheme), got {:?}",
            self.0
        )
    }
}

impl std::error::Error for HostNameError {}
