//! The faults of issue 15, each with its injection and its healing.

use super::hosts::Hosts;
use super::proxy::Controls;
use super::rig::{Rig, fill};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    LinkDown,
    LinkStalled,
    KillCapture,
    KillControl,
    KillSmbd,
    CaptureFailpoint,
    ShareUnmounted,
    MarkerRemoved,
    ShareReadOnly,
    SpoolFull,
    ShareFull,
    ClockStep,
}

pub const ALL: [Kind; 12] = [
    Kind::LinkDown,
    Kind::LinkStalled,
    Kind::KillCapture,
    Kind::KillControl,
    Kind::KillSmbd,
    Kind::CaptureFailpoint,
    Kind::ShareUnmounted,
    Kind::MarkerRemoved,
    Kind::ShareReadOnly,
    Kind::SpoolFull,
    Kind::ShareFull,
    Kind::ClockStep,
];

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::LinkDown => "link down",
            Kind::LinkStalled => "link stalled",
            Kind::KillCapture => "kill -9 capture",
            Kind::KillControl => "kill -9 control",
            Kind::KillSmbd => "kill -9 smbd",
            Kind::CaptureFailpoint => "capture failpoint",
            Kind::ShareUnmounted => "share unmounted",
            Kind::MarkerRemoved => "marker removed",
            Kind::ShareReadOnly => "share read-only",
            Kind::SpoolFull => "spool full",
            Kind::ShareFull => "share full",
            Kind::ClockStep => "clock step",
        }
    }

    /// How long the fault lasts before it heals (kills heal by restart).
    pub fn lasts(self, rng: &mut Rng) -> Duration {
        match self {
            Kind::KillCapture | Kind::KillControl | Kind::KillSmbd | Kind::CaptureFailpoint => {
                Duration::ZERO
            }
            Kind::ClockStep => Duration::from_millis(3000 + rng.below(3000)),
            _ => Duration::from_millis(1000 + rng.below(3000)),
        }
    }
}

/// What must be undone when the fault heals.
pub enum Undo {
    Nothing,
    Link,
    Stall,
    Mount,
    Marker,
    ReadOnly,
    Filler(PathBuf),
    Clock,
}

/// Inject `kind` now; `detail` says what exactly was done.
pub fn inject(
    kind: Kind,
    rng: &mut Rng,
    rig: &mut Rig,
    hosts: &mut Hosts,
    proxy: &Controls,
) -> (Undo, String) {
    match kind {
        Kind::LinkDown => {
            rig.set_link(false);
            (Undo::Link, String::new())
        }
        Kind::LinkStalled => {
            proxy.stalled.store(true, Ordering::SeqCst);
            (Undo::Stall, String::new())
        }
        Kind::KillCapture => {
            hosts.capture.kill9();
            (Undo::Nothing, String::new())
        }
        Kind::KillControl => {
            hosts.control.kill9();
            (Undo::Nothing, String::new())
        }
        Kind::KillSmbd => {
            hosts.smbd.kill9();
            (Undo::Nothing, String::new())
        }
        Kind::CaptureFailpoint => {
            // The recorder dies at that point of the next take it handles.
            let point =
                ["capture.recorded", "capture.processed", "capture.deliver"][rng.below(3) as usize];
            let action = ["panic", "exit"][rng.below(2) as usize];
            let spec = format!("{point}={action}");
            hosts.capture.kill9();
            hosts.next_failpoint = Some(spec.clone());
            hosts.start_capture();
            (Undo::Nothing, spec)
        }
        Kind::ShareUnmounted => {
            rig.unmount_share();
            (Undo::Mount, String::new())
        }
        Kind::MarkerRemoved => {
            let _ = std::fs::remove_file(rig.drive().join(".takebox-share"));
            (Undo::Marker, String::new())
        }
        Kind::ShareReadOnly => {
            rig.share_read_only(true);
            (Undo::ReadOnly, String::new())
        }
        Kind::SpoolFull => (Undo::Filler(fill(&rig.spool(), 16 * 1024)), String::new()),
        Kind::ShareFull => (Undo::Filler(fill(&rig.drive(), 16 * 1024)), String::new()),
        Kind::ClockStep => {
            let secs = if rng.below(2) == 0 { 2 } else { -2 };
            proxy.clock_shift.store(secs, Ordering::SeqCst);
            (Undo::Clock, format!("{secs:+} s"))
        }
    }
}

pub fn heal(undo: Undo, rig: &mut Rig, proxy: &Controls) {
    match undo {
        Undo::Nothing => {}
        Undo::Link => rig.set_link(true),
        Undo::Stall => proxy.stalled.store(false, Ordering::SeqCst),
        Undo::Mount => rig.mount_share(),
        Undo::Marker => std::fs::write(rig.drive().join(".takebox-share"), b"").unwrap(),
        Undo::ReadOnly => rig.share_read_only(false),
        Undo::Filler(f) => {
            std::fs::remove_file(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()))
        }
        Undo::Clock => proxy.clock_shift.store(0, Ordering::SeqCst),
    }
}

/// splitmix64: a seeded generator, so a run is reproduced by its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}
