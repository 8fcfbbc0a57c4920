//! Writes that survive a power cut: temp file, fsync, rename, fsync the directory.
//!
//! Linux reports a failed write-back only once, so a failed `fsync` here is final:
//! callers must treat the data as not stored and keep their own copy.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The temporary sibling used while `path` is being written. It starts with a dot so
/// that file browsers and cleanup jobs do not take it for a finished file.
pub fn temp_path_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.part"))
}

/// True when `name` is one of our temporary names (left behind by a crash).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".part")
}

/// fsync a directory so that a rename or a new entry in it is on disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Why a folder cannot be made where one is wanted; `at` is the path that
/// stood in the way (the folder itself or its nearest existing ancestor).
#[derive(Debug)]
pub enum CannotMakeDir {
    NotAFolder { at: PathBuf },
    Unreadable { at: PathBuf, error: String },
    KernelFileSystem { at: PathBuf, which: &'static str },
    ReadOnly { at: PathBuf },
    NotWritable { at: PathBuf, error: nix::Error },
}

impl std::fmt::Display for CannotMakeDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CannotMakeDir::NotAFolder { at } => {
                write!(f, "{} is a file, not a folder", at.display())
            }
            CannotMakeDir::Unreadable { at, error } => write!(f, "{}: {error}", at.display()),
            CannotMakeDir::KernelFileSystem { at, which } => write!(
                f,
                "{} is on a kernel file system ({which}) where no folder can be made",
                at.display()
            ),
            CannotMakeDir::ReadOnly { at } => {
                write!(f, "{} is on a read-only file system", at.display())
            }
            CannotMakeDir::NotWritable { at, error } => write!(
                f,
                "{}: cannot make a folder or file there: {error}",
                at.display()
            ),
        }
    }
}

impl std::error::Error for CannotMakeDir {}

/// Whether `create_dir_all(dir)` can succeed, found out without making
/// anything: `dir` is a folder, or its nearest existing ancestor is a folder
/// that can be written, on a file system that is neither read-only nor one of
/// the kernel's (`/proc`, `/sys`, ...), where no folder can be made.
pub fn check_can_make_dir(dir: &Path) -> Result<(), CannotMakeDir> {
    let at = nearest_existing(dir)?;
    let unreadable = |e: nix::Error| CannotMakeDir::Unreadable {
        at: at.to_path_buf(),
        error: e.to_string(),
    };
    let st = nix::sys::statfs::statfs(at).map_err(unreadable)?;
    if is_kernel_file_system(st.filesystem_type()) {
        let which = if dir.starts_with("/proc") {
            "/proc"
        } else if dir.starts_with("/sys") {
            "/sys"
        } else {
            "proc, sysfs or the like"
        };
        return Err(CannotMakeDir::KernelFileSystem {
            at: at.to_path_buf(),
            which,
        });
    }
    let vfs = nix::sys::statvfs::statvfs(at).map_err(unreadable)?;
    if vfs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Err(CannotMakeDir::ReadOnly {
            at: at.to_path_buf(),
        });
    }
    nix::unistd::access(
        at,
        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
    )
    .map_err(|error| CannotMakeDir::NotWritable {
        at: at.to_path_buf(),
        error,
    })
}

/// `dir`, or its nearest ancestor that exists, which must be a folder.
fn nearest_existing(dir: &Path) -> Result<&Path, CannotMakeDir> {
    let mut at = dir;
    loop {
        match fs::metadata(at) {
            Ok(m) if m.is_dir() => return Ok(at),
            Ok(_) => {
                return Err(CannotMakeDir::NotAFolder {
                    at: at.to_path_buf(),
                });
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                at = match at.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
            }
            Err(e) => {
                return Err(CannotMakeDir::Unreadable {
                    at: at.to_path_buf(),
                    error: e.to_string(),
                });
            }
        }
    }
}

/// File systems of the kernel's own (`/proc`, `/sys`, ...), where no folder can be made.
fn is_kernel_file_system(kind: nix::sys::statfs::FsType) -> bool {
    use nix::sys::statfs as sf;
    [
        sf::PROC_SUPER_MAGIC,
        sf::SYSFS_MAGIC,
        sf::DEVPTS_SUPER_MAGIC,
        sf::CGROUP_SUPER_MAGIC,
        sf::CGROUP2_SUPER_MAGIC,
        sf::DEBUGFS_MAGIC,
        sf::SECURITYFS_MAGIC,
        sf::TRACEFS_MAGIC,
        sf::BPF_FS_MAGIC,
        sf::NSFS_MAGIC,
        sf::SELINUX_MAGIC,
        sf::SMACK_MAGIC,
    ]
    .contains(&kind)
}

/// Replace `path` with `bytes` atomically: readers see the old or the new file, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path_for(path);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        sync_dir(parent_or_dot(path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Move a finished file into place under its final name and make the rename durable.
pub fn publish(tmp: &Path, dest: &Path) -> io::Result<()> {
    fs::rename(tmp, dest)?;
    sync_dir(parent_or_dot(dest))
}

/// [`publish`] that never replaces: if `dest` exists, the move fails with
/// `AlreadyExists` and `tmp` stays where it is. Where the file system has no
/// atomic no-replace rename (a CIFS mount answers EINVAL), a hard link does
/// the same; where that is refused too, the name is checked just before the
/// rename (only this daemon writes these names, one delivery at a time).
pub fn publish_new(tmp: &Path, dest: &Path) -> io::Result<()> {
    rename_noreplace(tmp, dest)?;
    sync_dir(parent_or_dot(dest))
}

fn rename_noreplace(tmp: &Path, dest: &Path) -> io::Result<()> {
    use nix::errno::Errno;
    use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
    match renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => return Ok(()),
        Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {}
        Err(e) => return Err(e.into()),
    }
    match fs::hard_link(tmp, dest) {
        Ok(()) => return fs::remove_file(tmp),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
        Err(_) => {}
    }
    if fs::symlink_metadata(dest).is_ok() {
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, "file exists"));
    }
    fs::rename(tmp, dest)
}

/// Asks the kernel to start writing `file`'s dirty pages now, without
/// waiting: the one flush of [`publish_all`] then finds little left to do,
/// and the disk works while the next file is computed. Only a hint: a
/// failure here is reported by that later flush.
pub fn start_writeback(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a plain syscall on a descriptor that `file` keeps open.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

/// [`publish`] for a batch of finished temp files written without their
/// own fsync: one `syncfs` per file system makes all their data durable at
/// once (a batch of small files would otherwise wait on one flush each),
/// then each is renamed, then each directory is fsynced once. The result
/// for each `(tmp, dest)` pair, in order; a pair whose data or rename could
/// not be made durable is an error and its temp file is left in place.
pub fn publish_all(moves: &[(PathBuf, PathBuf)]) -> Vec<io::Result<()>> {
    use std::collections::HashMap;
    use std::os::unix::fs::MetadataExt;
    let error = |e: &io::Error| io::Error::new(e.kind(), e.to_string());
    // Data: one syncfs per device holding a temp file.
    let mut synced: HashMap<u64, Result<(), io::Error>> = HashMap::new();
    let mut results: Vec<io::Result<()>> = moves
        .iter()
        .map(|(tmp, _)| {
            let dir = parent_or_dot(tmp);
            let dev = fs::metadata(dir)?.dev();
            let r = synced.entry(dev).or_insert_with(|| {
                let f = File::open(dir)?;
                nix::unistd::syncfs(&f).map_err(io::Error::from)
            });
            r.as_ref().map(|_| ()).map_err(error)
        })
        .collect();
    // Names: rename, then one fsync per directory.
    let mut dirs: HashMap<&Path, Result<(), io::Error>> = HashMap::new();
    for ((tmp, dest), r) in moves.iter().zip(results.iter_mut()) {
        if r.is_ok() {
            *r = fs::rename(tmp, dest);
            if r.is_ok() {
                dirs.entry(parent_or_dot(dest)).or_insert(Ok(()));
            }
        }
    }
    for (dir, r) in dirs.iter_mut() {
        *r = sync_dir(dir);
    }
    for ((_, dest), r) in moves.iter().zip(results.iter_mut()) {
        if let (Ok(()), Some(Err(e))) = (&r, dirs.get(parent_or_dot(dest))) {
            *r = Err(error(e));
        }
    }
    results
}

fn parent_or_dot(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_that_cannot_be_made_are_named_without_making_anything() {
        let tmp = std::env::temp_dir().join(format!("takebox-mkcheck-{}", std::process::id()));
        fs::create_dir_all(&tmp).unwrap();
        check_can_make_dir(&tmp.join("a/b/c")).unwrap();
        assert!(!tmp.join("a").exists(), "the check made a folder");
        check_can_make_dir(&tmp).unwrap();
        let e = check_can_make_dir(Path::new("/proc/takebox/spool")).unwrap_err();
        assert!(
            matches!(e, CannotMakeDir::KernelFileSystem { which: "/proc", .. }),
            "{e}"
        );
        assert!(e.to_string().contains("kernel file system (/proc)"), "{e}");
        let e = check_can_make_dir(Path::new("/sys/takebox")).unwrap_err();
        assert!(
            matches!(e, CannotMakeDir::KernelFileSystem { which: "/sys", .. }),
            "{e}"
        );
        fs::write(tmp.join("file"), b"").unwrap();
        let e = check_can_make_dir(&tmp.join("file/spool")).unwrap_err();
        assert!(
            matches!(&e, CannotMakeDir::NotAFolder { at } if at == &tmp.join("file")),
            "{e}"
        );
        assert!(e.to_string().ends_with("is a file, not a folder"), "{e}");
        fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn publish_all_moves_every_file_and_reports_each() {
        let dir = std::env::temp_dir().join(format!("takebox-publish-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("a")).unwrap();
        let mut moves = Vec::new();
        for name in ["one.wav", "two.wav"] {
            let dest = dir.join("a").join(name);
            let tmp = temp_path_for(&dest);
            fs::write(&tmp, name).unwrap();
            moves.push((tmp, dest));
        }
        // A temp file that is not there: its own error, the others move.
        moves.push((dir.join("a/.gone.part"), dir.join("a/gone.wav")));
        let results = publish_all(&moves);
        assert!(results[0].is_ok() && results[1].is_ok(), "{results:?}");
        assert!(results[2].is_err());
        assert_eq!(fs::read(dir.join("a/two.wav")).unwrap(), b"two.wav");
        assert!(!moves[0].0.exists() && !dir.join("a/gone.wav").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("takebox-durable-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("settings.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert!(!temp_path_for(&p).exists());
        assert!(is_temp_name(".settings.json.part"));
        assert!(!is_temp_name("settings.json"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn publish_new_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("take.wav");
        let tmp = temp_path_for(&dest);
        fs::write(&tmp, b"first").unwrap();
        publish_new(&tmp, &dest).unwrap();
        fs::write(&tmp, b"second").unwrap();
        let e = publish_new(&tmp, &dest).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&dest).unwrap(), b"first");
        assert_eq!(fs::read(&tmp).unwrap(), b"second");
    }

    #[test]
    fn failed_write_leaves_old_file() {
        let p = Path::new("/nonexistent-dir-takebox/x.json");
        assert!(write_atomic(p, b"x").is_err());
    }
}
