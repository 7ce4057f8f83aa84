//! One `process` run per state directory at a time: two runs would interleave their appends and
//! their SQLite transactions, and each would judge the other's half-written work.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

/// The lock file inside the state directory. Its content is irrelevant; the lock is the OS's
/// (`flock`), so a run that crashes releases it.
pub const LOCK_FILE: &str = "lock";

/// Held for as long as the run works on the directory; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Takes the exclusive lock on `dir`. When another process holds it, calls `waiting` once
    /// (to say why nothing happens) and blocks until that process is done.
    pub fn acquire(dir: &Path, waiting: impl FnOnce()) -> std::io::Result<StateLock> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                waiting();
                file.lock()?;
            }
            Err(TryLockError::Error(error)) => return Err(error),
        }
        Ok(StateLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn a_second_holder_waits_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateLock::acquire(dir.path(), || panic!("nobody holds it yet")).unwrap();
        let (said_waiting, waited) = mpsc::channel();
        let (acquired, got) = mpsc::channel();
        let path = dir.path().to_owned();
        let second = std::thread::spawn(move || {
            let lock = StateLock::acquire(&path, || said_waiting.send(()).unwrap()).unwrap();
            acquired.send(()).unwrap();
            drop(lock);
        });
        // The second run announces that it waits, and does not get the lock while we hold it.
        waited.recv().unwrap();
        assert!(got.try_recv().is_err());
        drop(first);
        got.recv().unwrap();
        second.join().unwrap();
        // Released again: a third run gets it without waiting.
        StateLock::acquire(dir.path(), || panic!("released")).unwrap();
    }
}
