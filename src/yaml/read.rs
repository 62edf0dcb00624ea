//! Bounded reads of files tfauth does not control: only regular files, and never more than
//! a cap, however the file lies about its size.
//!
//! The file is opened with `O_NONBLOCK` so a FIFO cannot block the open (a FIFO without a
//! writer would wait forever), then `fstat`ed on the open descriptor: anything but a regular
//! file (FIFO, socket, `/dev/zero`, a directory) is refused before one byte is read. The cap
//! is enforced while reading (`take(cap + 1)`), not only from the size `fstat` reports, so
//! a file that grows between the two, or a filesystem that reports 0 (procfs), still stops.
//!
//! This is the one function for every YAML read (atmos.yaml, profiles, stack manifests and
//! imports, `!include`) and for the stack index. It does not depend on YAML; it could live
//! in `crate::fsutil` for the other readers (caches) as well.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Why a bounded read failed.
#[derive(Debug)]
pub enum BoundedReadError {
    /// Opening or reading failed (missing file, permissions).
    Io(io::Error),
    /// The path is not a regular file; the text says what it is ("a FIFO", ...).
    NotRegular(&'static str),
    /// The file holds more than the cap; `size` is what is known of it (at least cap + 1).
    TooLarge { size: u64 },
}

/// The contents of the regular file `path`, at most `cap` bytes.
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>, BoundedReadError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(BoundedReadError::Io)?;
    read_open(file, cap)
}

fn read_open(file: File, cap: u64) -> Result<Vec<u8>, BoundedReadError> {
    let meta = file.metadata().map_err(BoundedReadError::Io)?;
    let ft = meta.file_type();
    if !ft.is_file() {
        return Err(BoundedReadError::NotRegular(kind_name(&ft)));
    }
    if meta.len() > cap {
        return Err(BoundedReadError::TooLarge { size: meta.len() });
    }
    let mut bytes = Vec::with_capacity(meta.len().min(cap) as usize);
    file.take(cap + 1).read_to_end(&mut bytes).map_err(BoundedReadError::Io)?;
    if bytes.len() as u64 > cap {
        return Err(BoundedReadError::TooLarge { size: bytes.len() as u64 });
    }
    Ok(bytes)
}

/// What a file that is not a regular one is, for messages.
pub fn kind_name(ft: &std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_symlink() {
        "a symlink"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn regular_files_within_the_cap() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a.yaml");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(read_regular(&p, 3).unwrap(), b"abc");
        assert!(matches!(read_regular(&p, 2), Err(BoundedReadError::TooLarge { size: 3 })));
        assert!(
            matches!(read_regular(&t.path().join("missing"), 9), Err(BoundedReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound)
        );
    }

    #[test]
    fn devices_directories_and_fifos_are_refused_at_once() {
        let t = tempfile::tempdir().unwrap();
        let started = Instant::now();
        assert!(matches!(
            read_regular(Path::new("/dev/zero"), 16),
            Err(BoundedReadError::NotRegular("a character device"))
        ));
        assert!(matches!(read_regular(t.path(), 16), Err(BoundedReadError::NotRegular("a directory"))));
        let fifo = t.path().join("fifo.yaml");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(status.success());
        assert!(matches!(read_regular(&fifo, 16), Err(BoundedReadError::NotRegular("a FIFO (named pipe)"))));
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    }

    #[test]
    fn the_cap_holds_when_the_size_lies() {
        // procfs reports size 0 for files with contents: the cap is enforced while reading.
        let p = Path::new("/proc/self/status");
        if p.exists() {
            assert!(matches!(read_regular(p, 8), Err(BoundedReadError::TooLarge { size: 9 })));
            assert!(read_regular(p, 1 << 20).is_ok());
        }
    }
}
