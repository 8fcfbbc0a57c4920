//! takebox: a two-machine recording appliance for instrument sample libraries.
//!
//! Dependencies point down: the binaries use `control`, `capture` and `catalog`;
//! those use `dsp`, `protocol`, `config` and `notes`. `control` and `capture` share
//! only the protocol, which sends `dsp`'s check verdict as it is; `dsp` does no
//! I/O. `session_log_format` (the session log's typed lines: the board writes
//! them, the catalog and cleanup read them) and `retention` (what cleanup may
//! delete, and deleting it) sit below `control` and `catalog`, so both use them
//! without using each other.

pub mod capture;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod control;
pub mod dsp;
pub mod durable;
pub mod failpoint;
pub mod flac;
#[doc(hidden)]
pub mod fuzz;
pub mod http;
pub mod json_edit;
pub mod logging;
pub mod notes;
pub mod panics;
pub mod protocol;
pub mod retention;
pub mod sdnotify;
pub mod seam;
pub mod session_log_format;
pub mod wav;
