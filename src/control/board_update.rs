//! The board image's version and its last update's outcome, read from the
//! files the image's update tools write (image/overlay: takebox-update and
//! mark-good), for `GET /api/v1/status` and the page.

use std::path::Path;

use crate::protocol::{BoardVersion, UpdateOutcome};

/// Written into each root slot by image/build.sh.
pub const IMAGE_VERSION_FILE: &str = "/usr/lib/takebox/version";
/// What runs and how the last update went (`status_file`: KEY=VALUE lines in
/// `state_dir/update` on the shared /var, rewritten by each update step);
/// files that are missing (not an image, or never updated) leave their part out.
pub fn read(version_file: &Path, status_file: &Path) -> BoardVersion {
    let image = std::fs::read_to_string(version_file)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let update = std::fs::read_to_string(status_file)
        .ok()
        .and_then(|text| parse_outcome(&text));
    BoardVersion {
        takebox: env!("CARGO_PKG_VERSION").to_string(),
        image,
        update,
        upload: None,
    }
}

/// One line for the page: what runs and how the last update went.
pub fn summary(board: &BoardVersion) -> String {
    let mut line = format!("takebox {}", board.takebox);
    if let Some(image) = &board.image {
        line += &format!(", image {image}");
    }
    if let Some(u) = &board.update {
        let what = match u.state.as_str() {
            "rolled-back" => "rolled back",
            "good" => "installed and running",
            "installed" => "installed, tried at the next reboot",
            "trying" => "being tried",
            "verifying" => "verifying the bundle's signature",
            "failed" => "not installed",
            other => other,
        };
        let slot = match u.slot.as_str() {
            "" => String::new(),
            s => format!(" (slot {s})"),
        };
        line += &format!("; last update {}{slot}: {what}", u.version);
        if let Some(p) = u.percent.filter(|_| u.state == "installing") {
            line += &format!(" {p}% ({})", u.step);
        }
        if !u.reason.is_empty() {
            line += &format!(": {}", u.reason);
        }
    }
    line
}

/// The status file's lines; None without a state.
fn parse_outcome(text: &str) -> Option<UpdateOutcome> {
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let state = field("state");
    (!state.is_empty()).then(|| UpdateOutcome {
        state,
        version: field("version"),
        slot: field("slot"),
        reason: field("reason"),
        time: field("time"),
        percent: field("percent").parse().ok().filter(|p| *p <= 100),
        step: field("step"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_rolled_back_update_and_the_image_version() {
        let dir = tempfile::tempdir().unwrap();
        let (version, status) = (dir.path().join("version"), dir.path().join("status"));
        std::fs::write(&version, "v1.2-3-gabc-202612020400\n").unwrap();
        std::fs::write(
            &status,
            "state=rolled-back\nversion=v1.3\nslot=A\nreason=takebox-control did not answer (unit failed)\ntime=2026-12-02T04:00:00Z\n",
        )
        .unwrap();
        let got = read(&version, &status);
        assert_eq!(got.image.as_deref(), Some("v1.2-3-gabc-202612020400"));
        let update = got.update.clone().unwrap();
        assert_eq!(update.state, "rolled-back");
        assert_eq!(update.slot, "A");
        assert_eq!(
            update.reason,
            "takebox-control did not answer (unit failed)"
        );
        let line = summary(&got);
        assert!(
            line.ends_with("last update v1.3 (slot A): rolled back: takebox-control did not answer (unit failed)"),
            "{line}"
        );
    }

    #[test]
    fn off_an_image_there_is_neither() {
        let dir = tempfile::tempdir().unwrap();
        let got = read(&dir.path().join("none"), &dir.path().join("none"));
        assert_eq!((got.image, got.update), (None, None));
        assert_eq!(parse_outcome("version=1\n"), None);
    }
}
