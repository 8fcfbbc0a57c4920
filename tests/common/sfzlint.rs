//! sfzlint (from PyPI) in a venv under target/, installed once under a lock.

use std::path::{Path, PathBuf};
use std::process::Command;

/// sfzlint from PyPI in a venv under target/; no network means a failed test.
///
/// Tests run in parallel (threads of this binary, and other processes sharing
/// the target folder): one builds the venv while the others wait on a lock, and
/// the venv counts as built only once a marker written after a successful
/// install exists, so nobody runs a half-installed sfzlint. (A venv cannot be
/// built elsewhere and renamed into place: its scripts name their own path.)
pub fn sfzlint() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venvs");
    std::fs::create_dir_all(&root).unwrap();
    let venv = root.join("sfzlint");
    let bin = venv.join("bin/sfzlint");
    let done = root.join("sfzlint.installed");
    let lock = std::fs::File::create(root.join("sfzlint.lock")).unwrap();
    let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .expect("lock the sfzlint venv");
    if done.exists() && bin.exists() {
        return bin;
    }
    // Whatever is there was left by an interrupted build: start over.
    let _ = std::fs::remove_file(&done);
    let _ = std::fs::remove_dir_all(&venv);
    let st = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3");
    assert!(st.success(), "python3 -m venv failed: install python3-venv");
    let out = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "sfzlint"])
        .output()
        .unwrap();
    assert!(
        out.status.success() && bin.exists(),
        "cannot install sfzlint from PyPI (is it reachable?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&done, b"").unwrap();
    bin
}

/// sfzlint finds nothing in `sfz` (it exits 0 and prints no finding); what
/// it wrote to stderr.
pub fn assert_sfzlint_passes(sfz: &Path) -> String {
    let o = Command::new(sfzlint()).arg(sfz).output().unwrap();
    let (so, se) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(
        o.status.success() && so.trim().is_empty(),
        "sfzlint: {so}{se}"
    );
    se
}
