//! Process-level guards: the single-daemon lock on a SQLite database and the
//! pid file that `tickerd trigger` signals.

use anyhow::Context;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// An exclusive `flock` on `DB.daemon-lock`, held while the daemon runs.
/// SQLite has no leases across processes worth the name, so one daemon per
/// database file is the rule; the kernel drops the lock if we die.
pub struct DaemonLock {
    _file: File,
    pub path: PathBuf,
}

impl DaemonLock {
    pub fn acquire(db_path: &Path) -> anyhow::Result<DaemonLock> {
        let path = PathBuf::from(format!("{}.daemon-lock", db_path.display()));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            anyhow::bail!(
                "another tickerd daemon{} already runs on the SQLite database {}; only one daemon may hold a SQLite file (use PostgreSQL to run several)",
                if holder.is_empty() { String::new() } else { format!(" (pid {holder})") },
                db_path.display()
            );
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        file.flush()?;
        Ok(DaemonLock { _file: file, path })
    }
}

/// The daemon's pid file, removed on drop.
pub struct PidFile {
    pub path: PathBuf,
}

impl PidFile {
    pub fn create(path: &Path) -> anyhow::Result<PidFile> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, format!("{}\n", std::process::id()))
            .with_context(|| format!("cannot write the pid file {}", path.display()))?;
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }

    /// The pid in a pid file, if the file exists and the process is alive.
    pub fn read_live(path: &Path) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(path).ok()?.trim().parse().ok()?;
        crate::ledger::process_alive(pid.into()).then_some(pid)
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Only remove our own file (a newer daemon may have replaced it).
        if std::fs::read_to_string(&self.path)
            .is_ok_and(|s| s.trim() == std::process::id().to_string())
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
