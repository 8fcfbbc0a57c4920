//! Python tools from PyPI (sfzlint, pysfizz) in venvs under target/, each
//! installed once under a lock.

use std::path::{Path, PathBuf};
use std::process::Command;

/// sfzlint from PyPI in a venv under target/; no network means a failed test.
pub fn sfzlint() -> PathBuf {
    test_venv("sfzlint", &["sfzlint"]).join("bin/sfzlint")
}

/// A venv under target/test-venvs holding `packages` from PyPI, built once.
///
/// Tests run in parallel (threads of this binary, and other processes sharing
/// the target folder): one builds the venv while the others wait on a lock, and
/// the venv counts as built only once a marker written after a successful
/// install exists, so nobody runs a half-installed tool. (A venv cannot be
/// built elsewhere and renamed into place: its scripts name their own path.)
pub fn test_venv(name: &str, packages: &[&str]) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venvs");
    std::fs::create_dir_all(&root).unwrap();
    let venv = root.join(name);
    let done = root.join(format!("{name}.installed"));
    let lock = std::fs::File::create(root.join(format!("{name}.lock"))).unwrap();
    let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .expect("lock the venv");
    if done.exists() && venv.join("bin/python").exists() {
        return venv;
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
        .args(["install", "-q"])
        .args(packages)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cannot install {packages:?} from PyPI (is it reachable?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&done, b"").unwrap();
    venv
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
