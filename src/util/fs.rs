//! Files that hold or lead to secrets: trusted only when they are the user's own, written
//! private and whole.
//!
//! **Trust** (what OpenSSH's `StrictModes` does). A directory is used only when every
//! directory on its path is owned by the user or root and writable by no one else (a
//! root-owned sticky directory such as `/tmp` may be an ancestor; a group-writable one is
//! accepted only when its group is the user's own, as with user private groups). The
//! directory itself, and every one tfauth creates on the way (0700), must be the user's;
//! if it is the user's but wider than 0700 it is tightened. Below a checked directory,
//! everything is opened relative to its descriptor with `O_NOFOLLOW`, so no symlink is
//! followed where secrets live and nothing can be swapped in between the check and the
//! use. A symlink above the checked directory is followed only if it is the user's or
//! root's and sits in a trusted directory. A file is read only when it is a regular file
//! owned by the user, with a size cap, opened without blocking (a FIFO never hangs a
//! reader); a readable-by-others file of ours is tightened to 0600.
//!
//! **Writes** go to a temporary file created `O_EXCL`, 0600 from the first byte, synced
//! (where it matters), then renamed over the target: a reader sees the old file or the new
//! one, never half of one, and a process killed mid-write leaves the old file intact.
//!
//! Failures are `io::Error`s whose inner error is a [`TrustError`] when the problem is
//! whose a file is, so callers keep their own error types and a hint can be found.
//! This module is the ground floor: it uses nothing from the crate.

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The largest file tfauth reads as trusted data (the YAML loader uses the same cap).
pub const READ_CAP: u64 = 16 * 1024 * 1024;

/// Why a file or directory is not trusted.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{} is owned by uid {owner}, not by you (uid {me})", path.display())]
    NotOwned { path: PathBuf, owner: u32, me: u32 },
    #[error("{} is writable by other users (mode {mode:04o})", path.display())]
    Writable { path: PathBuf, mode: u32 },
    #[error("{} is a symbolic link, which tfauth does not follow here", path.display())]
    Symlink { path: PathBuf },
    #[error("{} is a symbolic link owned by uid {owner} in a directory others can write", path.display())]
    ForeignSymlink { path: PathBuf, owner: u32 },
    #[error("{} is not a directory", path.display())]
    NotDirectory { path: PathBuf },
    #[error("{} is not a regular file ({kind})", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{} is larger than {} MiB", path.display(), cap >> 20)]
    TooLarge { path: PathBuf, cap: u64 },
}

impl TrustError {
    pub fn hint(&self) -> String {
        match self {
            TrustError::NotOwned { path, .. } => format!(
                "another user could have planted or can change {}: remove it (or point XDG_CACHE_HOME / XDG_CONFIG_HOME at a directory of your own)",
                path.display()
            ),
            TrustError::Writable { path, .. } => format!("run `chmod go-w {}`", path.display()),
            TrustError::Symlink { path } | TrustError::ForeignSymlink { path, .. } => {
                format!("remove the link {} and run again; tfauth recreates what it needs", path.display())
            }
            TrustError::NotDirectory { path } => {
                format!("move {} aside; tfauth needs a directory there", path.display())
            }
            TrustError::NotRegular { path, .. } | TrustError::TooLarge { path, .. } => {
                format!("remove {}; tfauth recreates it", path.display())
            }
        }
    }

    /// The trust problem inside `e`, if that is what `e` is.
    pub fn of(e: &io::Error) -> Option<&TrustError> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<TrustError>())
    }
}

impl From<TrustError> for io::Error {
    fn from(e: TrustError) -> io::Error {
        let kind = match e {
            TrustError::TooLarge { .. } => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::PermissionDenied,
        };
        io::Error::new(kind, e)
    }
}

/// Why a bounded read of a file tfauth does not keep (a manifest, an `!include`) failed.
#[derive(Debug)]
pub enum BoundedReadError {
    /// Opening or reading failed (missing file, permissions).
    Io(io::Error),
    /// The path is not a regular file; the text says what it is ("a FIFO (named pipe)", ...).
    NotRegular(&'static str),
    /// The file holds more than the cap; `size` is what is known of it (at least cap + 1).
    TooLarge { size: u64 },
}

/// The contents of the regular file `path` (a repository's file: links are followed, any
/// owner), at most `cap` bytes. Opened with `O_NONBLOCK`, so a FIFO without a writer cannot
/// block the open, then `fstat`ed on the open descriptor: anything but a regular file is
/// refused before one byte is read. The cap holds while reading, so a file that grows, or
/// a filesystem that reports size 0 (procfs), still stops.
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>, BoundedReadError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags((OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC).bits() as i32)
        .open(path)
        .map_err(BoundedReadError::Io)?;
    let meta = file.metadata().map_err(BoundedReadError::Io)?;
    let kind = FileType::from_raw_mode(std::os::unix::fs::MetadataExt::mode(&meta));
    if kind != FileType::RegularFile {
        return Err(BoundedReadError::NotRegular(kind_name(kind)));
    }
    if meta.len() > cap {
        return Err(BoundedReadError::TooLarge { size: meta.len() });
    }
    read_capped(file, cap, meta.len()).map_err(|e| match e {
        Capped::Io(e) => BoundedReadError::Io(e),
        Capped::TooLarge(size) => BoundedReadError::TooLarge { size },
    })
}

enum Capped {
    Io(io::Error),
    TooLarge(u64),
}

/// At most `cap` bytes of `file`, whatever its size claims (`hint`: that claim).
fn read_capped(file: File, cap: u64, hint: u64) -> Result<Vec<u8>, Capped> {
    let mut out = Vec::with_capacity(hint.min(cap) as usize);
    file.take(cap + 1).read_to_end(&mut out).map_err(Capped::Io)?;
    match out.len() as u64 {
        n if n > cap => Err(Capped::TooLarge(n)),
        _ => Ok(out),
    }
}

/// What a file that is not a regular one is, for messages.
pub fn kind_name(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Fifo => "a FIFO (named pipe)",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Symlink => "a symlink",
        _ => "not a regular file",
    }
}

/// A uid besides root and the user whose directories may stand on the way (never in
/// tfauth's own tree): the owner of the user's `$HOME` ([`trust_home_owner`]).
static HOME_OWNER: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// Trusts the owner of `home` for the directories on the way to tfauth's, as OpenSSH's
/// StrictModes trusts the home directory: whoever owns `$HOME` can already replace what
/// the user reads from it. This is the case of a job that runs as root in a container
/// whose `HOME` is the CI runner's (GitHub Actions' `/github/home`). tfauth's own
/// directories and files must still be the user's. The binaries call it once at start.
pub fn trust_home_owner(home: &Path) {
    if let Ok(meta) = fs::metadata(home) {
        let owner = std::os::unix::fs::MetadataExt::uid(&meta);
        if owner != euid() && owner != 0 {
            let _ = HOME_OWNER.set(owner);
        }
    }
}

/// Checks that a file tfauth would act on (a configuration file with `!exec`) is the user's
/// and writable by no one else: owned by the user, not writable by others, and writable by
/// its group only when that is the user's own group (user private groups). A symbolic link
/// must be the user's too, and so must its target; the directory holding the target must be
/// the user's (or root's) and writable by no one else, or the file could be swapped.
pub fn check_user_file(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let me = euid();
    let egid = rustix::process::getegid().as_raw();
    let link = std::fs::symlink_metadata(path)?;
    let target = std::fs::metadata(path)?;
    for meta in [&link, &target] {
        if meta.uid() != me {
            return Err(TrustError::NotOwned { path: path.to_path_buf(), owner: meta.uid(), me }.into());
        }
    }
    let mode = target.mode() & 0o7777;
    if mode & 0o002 != 0 || (mode & 0o020 != 0 && target.gid() != egid) {
        return Err(TrustError::Writable { path: path.to_path_buf(), mode }.into());
    }
    // Whoever may write the directory may swap the file between reading and this check.
    let real = std::fs::canonicalize(path)?;
    if let Some(dir) = real.parent() {
        let meta = std::fs::metadata(dir)?;
        if meta.uid() != me && !trusted_on_the_way(meta.uid(), me) {
            return Err(TrustError::NotOwned { path: dir.to_path_buf(), owner: meta.uid(), me }.into());
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o002 != 0 || (mode & 0o020 != 0 && meta.gid() != egid) {
            return Err(TrustError::Writable { path: dir.to_path_buf(), mode }.into());
        }
    }
    Ok(())
}

/// Whether directories (and links) that `owner` owns may stand on the way.
fn trusted_on_the_way(owner: u32, me: u32) -> bool {
    owner == me || owner == 0 || HOME_OWNER.get() == Some(&owner)
}

/// The effective uid of this process.
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// A directory checked to be the user's, held open: every file operation below goes
/// through its descriptor.
#[derive(Debug)]
pub struct PrivateDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl PrivateDir {
    /// Checks `dir`'s whole path, creating what is missing 0700 and tightening `dir`
    /// itself to 0700 if it is the user's and wider.
    pub fn create(dir: &Path) -> io::Result<PrivateDir> {
        open_chain(dir, true)?.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    /// Like [`PrivateDir::create`], for a directory in a tree that is all tfauth's (or
    /// Atmos's): below `base`, no symlink is followed and every directory is the user's,
    /// tightened to 0700 if wider. `base` and above are checked as ancestors.
    pub fn create_below(base: &Path, dir: &Path) -> io::Result<PrivateDir> {
        let depth = absolute(base)?.components().count();
        walk(dir, Walk { create: true, private: true, managed_from: Some(depth) })?
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    /// Like [`PrivateDir::create`], but creates nothing: `None` when `dir` (or a parent)
    /// does not exist.
    pub fn open(dir: &Path) -> io::Result<Option<PrivateDir>> {
        open_chain(dir, false)
    }

    /// [`PrivateDir::open`] for a directory below `base` (see [`PrivateDir::create_below`]).
    pub fn open_below(base: &Path, dir: &Path) -> io::Result<Option<PrivateDir>> {
        let depth = absolute(base)?.components().count();
        walk(dir, Walk { create: false, private: true, managed_from: Some(depth) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The contents of `name` (at most `cap` bytes), `None` when it does not exist. Only a
    /// regular file of the user's is read; a wider one is tightened to 0600 first.
    pub fn read(&self, name: &str, cap: u64) -> io::Result<Option<Vec<u8>>> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        let fd = match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(rustix::io::Errno::LOOP) => return Err(TrustError::Symlink { path: self.path.join(name) }.into()),
            Err(e) => return Err(e.into()),
        };
        let path = self.path.join(name);
        let size = check_own_file(&fd, &path)?;
        match read_capped(File::from(fd), cap, size) {
            Ok(out) => Ok(Some(out)),
            Err(Capped::Io(e)) => Err(e),
            Err(Capped::TooLarge(_)) => Err(TrustError::TooLarge { path, cap }.into()),
        }
    }

    /// Replaces `name` whole with `contents`, `mode` (masked to at most 0600), synced first
    /// when `durable`.
    pub fn replace(&self, name: &str, contents: &[u8], durable: bool, mode: u32) -> io::Result<()> {
        let mode = mode & 0o600;
        let tmp = format!(".{name}.{}.{}.tmp", std::process::id(), unique());
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, tmp.as_str(), flags, Mode::from_raw_mode(mode))?;
        let result = (|| {
            // The mode above is filtered by the umask; set it explicitly too (never wider).
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
            let mut f = File::from(fd);
            f.write_all(contents)?;
            if durable {
                f.sync_all()?;
            }
            rustix::fs::renameat(&self.fd, tmp.as_str(), &self.fd, name)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = rustix::fs::unlinkat(&self.fd, tmp.as_str(), AtFlags::empty());
        }
        result
    }

    /// Opens (creating, 0600) the lock file `name`: never through a symlink, and only a
    /// regular file of the user's.
    pub fn lock_file(&self, name: &str) -> io::Result<File> {
        let path = self.path.join(name);
        let base = OFlags::RDWR | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        let fd = match rustix::fs::openat(
            &self.fd,
            name,
            base | OFlags::CREATE | OFlags::EXCL,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::EXIST) => match rustix::fs::openat(&self.fd, name, base, Mode::empty()) {
                Ok(fd) => fd,
                Err(rustix::io::Errno::LOOP) => return Err(TrustError::Symlink { path }.into()),
                Err(rustix::io::Errno::ISDIR) => {
                    return Err(TrustError::NotRegular { path, kind: "a directory" }.into());
                }
                Err(e) => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
        };
        check_own_file(&fd, &path)?;
        Ok(File::from(fd))
    }

    /// Removes `name` (a file, never what a link points to); true if it was there.
    pub fn remove(&self, name: &str) -> io::Result<bool> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The names in this directory (no `.` and `..`), sorted.
    pub fn names(&self) -> io::Result<Vec<String>> {
        let fd =
            rustix::fs::openat(&self.fd, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        let mut out = Vec::new();
        for entry in rustix::fs::Dir::new(fd)? {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                out.push(String::from_utf8_lossy(name).into_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes the temporary files a writer of `name` left when it was killed between
    /// write and rename. Call it only while holding the lock that writers of `name` hold.
    pub fn sweep_temps(&self, name: &str) -> usize {
        let prefix = format!(".{name}.");
        let names = self.names().unwrap_or_default();
        names
            .iter()
            .filter(|n| n.starts_with(&prefix) && n.ends_with(".tmp"))
            .filter(|n| self.remove(n).unwrap_or(false))
            .count()
    }
}

/// Creates `dir` and its missing parents 0700 after checking the whole path, and tightens
/// `dir` itself to 0700 if it is the user's and wider.
pub fn create_private_dir(dir: &Path) -> io::Result<PrivateDir> {
    PrivateDir::create(dir)
}

/// The contents of `path` if it is a trusted file in a trusted directory (at most `cap`
/// bytes); `None` when it or its directory does not exist.
pub fn read_private(path: &Path, cap: u64) -> io::Result<Option<Vec<u8>>> {
    let (dir, name) = split(path)?;
    match PrivateDir::open(dir)? {
        Some(d) => d.read(name, cap),
        None => Ok(None),
    }
}

/// [`write_private_atomic`] for a file in a tree below `base` that is all tfauth's (see
/// [`PrivateDir::create_below`]): no symlink below `base` is followed.
pub fn write_private_below(base: &Path, path: &Path, contents: &[u8]) -> io::Result<()> {
    let (dir, name) = split(path)?;
    PrivateDir::create_below(base, dir)?.replace(name, contents, true, 0o600)
}

/// Atomically replaces `path` with `contents`, mode 0600, in a checked 0700 directory,
/// synced to disk before the rename so a crash cannot leave an empty file behind.
pub fn write_private_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let (dir, name) = split(path)?;
    PrivateDir::create(dir)?.replace(name, contents, true, 0o600)
}

/// Like [`write_private_atomic`] without the sync: for caches, where losing the newest
/// version to a crash costs only time.
pub fn write_private_cache(path: &Path, contents: &[u8]) -> io::Result<()> {
    let (dir, name) = split(path)?;
    PrivateDir::create(dir)?.replace(name, contents, false, 0o600)
}

/// Atomically replaces `path` in a directory that is the user's own but not tfauth's
/// (`~/.docker`): a missing directory is created 0700, an existing one must pass the same
/// ownership checks but keeps its mode. The file gets `mode`, masked to at most 0600.
pub fn replace_file_with_mode(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let (dir, name) = split(path)?;
    let d = match walk(dir, Walk { create: false, private: false, managed_from: None })? {
        Some(d) => d,
        None => PrivateDir::create(dir)?,
    };
    d.replace(name, contents, true, mode)
}

/// Writes `contents` to `path` in a directory that is the user's own (`-o FILE`): appended
/// to what the file holds (`append`), or in its place, either way by writing the whole new
/// file beside it (0600, synced) and renaming it over, so a reader sees the old file or the
/// new one, never half. The directory must exist and pass the ownership checks; an
/// existing file must be a regular file of the user's (a link is refused, never followed)
/// of at most `cap` bytes.
pub fn write_user_file(path: &Path, contents: &[u8], append: bool, cap: u64) -> io::Result<()> {
    let (dir, name) = split(path)?;
    let d = walk(dir, Walk { create: false, private: false, managed_from: None })?
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{} does not exist", dir.display())))?;
    let mut all = if append { d.read(name, cap)?.unwrap_or_default() } else { Vec::new() };
    all.extend_from_slice(contents);
    d.replace(name, &all, true, 0o600)
}

/// Whether [`write_user_file`] could write `path`, checked without writing: the directory
/// exists and passes the ownership checks, and `path` is missing or a regular file (a link
/// is refused, never followed). For refusing before any work is done.
pub fn check_output_target(path: &Path) -> io::Result<()> {
    let (dir, name) = split(path)?;
    let d = walk(dir, Walk { create: false, private: false, managed_from: None })?
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{} does not exist", dir.display())))?;
    match rustix::fs::statat(&d.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
        Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
        Ok(st) => match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => Ok(()),
            FileType::Symlink => Err(TrustError::Symlink { path: path.to_path_buf() }.into()),
            kind => Err(TrustError::NotRegular { path: path.to_path_buf(), kind: kind_name(kind) }.into()),
        },
    }
}

fn split(path: &Path) -> io::Result<(&Path, &str)> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(OsStr::to_str).ok_or_else(|| io::Error::other("a file path needs a name"))?;
    Ok((dir, name))
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as u64);
    nanos ^ (N.fetch_add(1, Ordering::Relaxed) << 32)
}

/// `path` made absolute and lexically cleaned (`.` dropped, `..` pops): what is walked.
fn absolute(path: &Path) -> io::Result<PathBuf> {
    let abs = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir()?.join(path) };
    let mut out = PathBuf::from("/");
    for c in abs.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

fn open_chain(dir: &Path, create: bool) -> io::Result<Option<PrivateDir>> {
    walk(dir, Walk { create, private: true, managed_from: None })
}

/// How [`walk`] treats what it meets.
#[derive(Clone, Copy)]
struct Walk {
    /// Create missing directories (0700).
    create: bool,
    /// The directory itself must be the user's and is tightened to 0700.
    private: bool,
    /// From this many path components on (counting `/`), the tree is tfauth's: no
    /// symlinks, every directory the user's and tightened.
    managed_from: Option<usize>,
}

/// Walks `dir` from `/`, one component at a time relative to the parent's descriptor.
fn walk(dir: &Path, how: Walk) -> io::Result<Option<PrivateDir>> {
    let Walk { create, private, managed_from } = how;
    let target = absolute(dir)?;
    let me = euid();
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut fd = rustix::fs::open("/", dir_flags, Mode::empty())?;
    let mut real = PathBuf::from("/");
    check_dir(&fd, &real, Place::Ancestor, me)?;
    let names: Vec<&OsStr> = target.components().skip(1).map(|c| c.as_os_str()).collect();
    for (i, name) in names.iter().enumerate() {
        let leaf = i + 1 == names.len();
        // `i + 2`: this component's count, `/` included.
        let managed = managed_from.is_some_and(|m| i + 2 > m);
        let here = real.join(name);
        let name = name.as_bytes();
        let next = match rustix::fs::openat(&fd, name, dir_flags, Mode::empty()) {
            Ok(next) => {
                let place = if (leaf && private) || managed { Place::Leaf } else { Place::Ancestor };
                check_dir(&next, &here, place, me)?;
                real = here;
                next
            }
            Err(rustix::io::Errno::NOENT) if create => {
                match rustix::fs::mkdirat(&fd, name, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                let next = match rustix::fs::openat(&fd, name, dir_flags, Mode::empty()) {
                    Ok(next) => next,
                    Err(rustix::io::Errno::LOOP) => return Err(TrustError::Symlink { path: here }.into()),
                    Err(e) => return Err(e.into()),
                };
                // Ours, just made (or made by a racing twin: checked the same way).
                check_dir(&next, &here, Place::Leaf, me)?;
                real = here;
                next
            }
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(rustix::io::Errno::LOOP) | Err(rustix::io::Errno::NOTDIR) => {
                let st = rustix::fs::statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
                if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
                    return Err(TrustError::NotDirectory { path: here }.into());
                }
                if (leaf && private) || managed {
                    return Err(TrustError::Symlink { path: here }.into());
                }
                // A link above the private directory (`~/.cache -> /data/me/cache`): the
                // user's or root's, in a directory only they can write (checked already).
                if !trusted_on_the_way(st.st_uid, me) {
                    return Err(TrustError::ForeignSymlink { path: here, owner: st.st_uid }.into());
                }
                let resolved = fs::canonicalize(&here)?;
                let rest: PathBuf = target.components().skip(i + 2).collect();
                // What is managed keeps its depth below the resolved prefix.
                let shift = |m: usize| m + resolved.components().count() - (i + 2);
                let how = Walk { managed_from: managed_from.map(shift), ..how };
                return walk(&resolved.join(rest), how);
            }
            Err(e) => return Err(e.into()),
        };
        fd = next;
    }
    Ok(Some(PrivateDir { fd, path: dir.to_path_buf() }))
}

#[derive(Clone, Copy, PartialEq)]
enum Place {
    /// A directory on the way: the user's or root's, writable by no one else.
    Ancestor,
    /// The directory itself: the user's, tightened to 0700.
    Leaf,
}

fn check_dir(fd: &OwnedFd, path: &Path, place: Place, me: u32) -> io::Result<()> {
    let st = rustix::fs::fstat(fd)?;
    let mode = st.st_mode & 0o7777;
    let owner = st.st_uid;
    let ours = owner == me;
    if !ours && (place == Place::Leaf || !trusted_on_the_way(owner, me)) {
        return Err(TrustError::NotOwned { path: path.to_path_buf(), owner, me }.into());
    }
    match place {
        Place::Leaf => {
            if mode & 0o077 != 0 {
                rustix::fs::fchmod(fd, Mode::from_raw_mode(0o700))?;
            }
        }
        Place::Ancestor => {
            let sticky = mode & 0o1000 != 0;
            let others_write = mode & 0o002 != 0 && !(sticky && owner == 0);
            // Group-writable: fine for the user's own group (user private groups). The
            // group is asked for only then: the helper's warm path walks every directory.
            let group_write =
                mode & 0o020 != 0 && !(sticky && owner == 0) && st.st_gid != rustix::process::getegid().as_raw();
            if others_write || group_write {
                return Err(TrustError::Writable { path: path.to_path_buf(), mode }.into());
            }
        }
    }
    Ok(())
}

/// Checks an open file is a regular file of the user's (tightening it to 0600 if wider);
/// returns its size.
fn check_own_file(fd: &OwnedFd, path: &Path) -> io::Result<u64> {
    let st = rustix::fs::fstat(fd.as_fd())?;
    let kind = FileType::from_raw_mode(st.st_mode);
    if kind != FileType::RegularFile {
        return Err(TrustError::NotRegular { path: path.to_path_buf(), kind: kind_name(kind) }.into());
    }
    let me = euid();
    if st.st_uid != me {
        return Err(TrustError::NotOwned { path: path.to_path_buf(), owner: st.st_uid, me }.into());
    }
    if st.st_mode & 0o077 != 0 {
        rustix::fs::fchmod(fd, Mode::from_raw_mode(st.st_mode & 0o700))?;
    }
    Ok(st.st_size.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_users_output_file_is_appended_or_replaced_whole_and_private() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("out.env");
        fs::write(&p, "OLD=1\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        write_user_file(&p, b"NEW=2\n", true, 1024).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "OLD=1\nNEW=2\n");
        assert_eq!(mode(&p), 0o600, "a file that now holds credentials is no wider than 0600");
        write_user_file(&p, b"{}\n", false, 1024).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "{}\n");
        // No directory is made, no link followed, and the target is left as it was.
        let err = write_user_file(&t.path().join("missing/out.env"), b"x", true, 1024).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let target = t.path().join("elsewhere");
        fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, t.path().join("link.env")).unwrap();
        let err = write_user_file(&t.path().join("link.env"), b"x", true, 1024).unwrap_err();
        assert!(matches!(TrustError::of(&err), Some(TrustError::Symlink { .. })), "{err}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 3, "no temporary file is left behind");
        // The same answers before anything is written.
        assert!(check_output_target(&p).is_ok() && check_output_target(&t.path().join("new.env")).is_ok());
        assert!(check_output_target(&t.path().join("missing/x")).is_err());
        assert!(check_output_target(&t.path().join("link.env")).is_err());
        assert!(matches!(
            TrustError::of(&check_output_target(t.path()).unwrap_err()),
            Some(TrustError::NotRegular { .. })
        ));
    }

    #[test]
    fn private_and_replaced_whole() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a/b/file");
        write_private_atomic(&p, b"one").unwrap();
        write_private_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(mode(&p), 0o600);
        assert_eq!(mode(p.parent().unwrap()), 0o700);
        let leftovers: Vec<_> =
            fs::read_dir(p.parent().unwrap()).unwrap().flatten().filter(|e| e.file_name() != "file").collect();
        assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
        assert_eq!(read_private(&p, 10).unwrap().unwrap(), b"two");
        assert!(read_private(&t.path().join("a/b/none"), 10).unwrap().is_none());
        assert!(read_private(&t.path().join("x/y/none"), 10).unwrap().is_none());
    }

    #[test]
    fn a_foreign_directory_keeps_its_mode_and_the_file_gets_at_most_0600() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("dot-docker");
        fs::create_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        let p = d.join("config.json");
        replace_file_with_mode(&p, b"{}", 0o644).unwrap();
        assert_eq!(mode(&p), 0o600);
        assert_eq!(mode(&d), 0o755, "not ours to tighten");
        replace_file_with_mode(&p, b"{ }", 0o400).unwrap();
        assert_eq!(mode(&p), 0o400, "a stricter mode is kept");
        assert_eq!(fs::read(&p).unwrap(), b"{ }");
        let fresh = t.path().join("new/dir/config.json");
        replace_file_with_mode(&fresh, b"{}", 0o600).unwrap();
        assert_eq!(mode(fresh.parent().unwrap()), 0o700);
    }

    #[test]
    fn tightens_an_existing_wide_directory_and_file_of_ours() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("wide");
        fs::create_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
        let dir = create_private_dir(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
        fs::write(d.join("entry"), b"x").unwrap();
        fs::set_permissions(d.join("entry"), fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(dir.read("entry", 10).unwrap().unwrap(), b"x");
        assert_eq!(mode(&d.join("entry")), 0o600);
    }

    #[test]
    fn an_ancestor_others_can_write_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let open = t.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let err = write_private_atomic(&open.join("mine/file"), b"x").unwrap_err();
        assert!(matches!(TrustError::of(&err), Some(TrustError::Writable { path, .. }) if path == &open), "{err}");
        assert!(!open.join("mine").exists(), "nothing is created under a directory others can write");
        // Sticky and root's, like /tmp: fine as an ancestor (only when root owns it).
        if euid() == 0 {
            fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).unwrap();
            write_private_atomic(&open.join("mine/file"), b"x").unwrap();
        }
    }

    #[test]
    fn symlinks_are_not_followed_where_secrets_live() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        fs::create_dir(&real).unwrap();
        fs::write(real.join("secret"), b"victim").unwrap();
        let dir = t.path().join("cache");
        std::os::unix::fs::symlink(&real, &dir).unwrap();
        // The private directory itself is a link: refused, the target untouched.
        let err = write_private_atomic(&dir.join("entry"), b"x").unwrap_err();
        assert!(matches!(TrustError::of(&err), Some(TrustError::Symlink { .. })), "{err}");
        assert!(!real.join("entry").exists());
        // A link as an entry or a lock: refused, never created through.
        let d = t.path().join("d");
        let pd = create_private_dir(&d).unwrap();
        std::os::unix::fs::symlink(real.join("secret"), d.join("k.json")).unwrap();
        std::os::unix::fs::symlink(real.join("planted"), d.join("k.lock")).unwrap();
        assert!(matches!(TrustError::of(&pd.read("k.json", 10).unwrap_err()), Some(TrustError::Symlink { .. })));
        assert!(matches!(TrustError::of(&pd.lock_file("k.lock").unwrap_err()), Some(TrustError::Symlink { .. })));
        assert!(!real.join("planted").exists(), "a lock that is a link must not create its target");
        // Replacing a linked entry replaces the link, not what it points to.
        pd.replace("k.json", b"new", false, 0o600).unwrap();
        assert_eq!(fs::read(real.join("secret")).unwrap(), b"victim");
        // A link above the private directory, the user's own, is followed.
        let via = t.path().join("via");
        std::os::unix::fs::symlink(&real, &via).unwrap();
        write_private_atomic(&via.join("sub/file"), b"ok").unwrap();
        assert_eq!(fs::read(real.join("sub/file")).unwrap(), b"ok");
    }

    #[test]
    fn below_the_base_no_link_is_followed_and_wide_directories_are_tightened() {
        let t = tempfile::tempdir().unwrap();
        let base = t.path().join("config");
        let home_aws = t.path().join("dot-aws");
        fs::create_dir_all(base.join("atmos/realm/aws")).unwrap();
        fs::set_permissions(base.join("atmos"), fs::Permissions::from_mode(0o775)).unwrap();
        fs::create_dir(&home_aws).unwrap();
        fs::write(home_aws.join("config"), b"[default]\n").unwrap();
        std::os::unix::fs::symlink(&home_aws, base.join("atmos/realm/aws/sso")).unwrap();
        let target = base.join("atmos/realm/aws/sso/0123/config");
        let err = write_private_below(&base, &target, b"x").unwrap_err();
        assert!(
            matches!(TrustError::of(&err), Some(TrustError::Symlink { path }) if path.ends_with("aws/sso")),
            "{err}"
        );
        assert_eq!(fs::read(home_aws.join("config")).unwrap(), b"[default]\n");
        assert!(!home_aws.join("0123").exists(), "nothing is created through the link");
        // Without the planted link: written, and the wide `atmos/` is tightened.
        fs::remove_file(base.join("atmos/realm/aws/sso")).unwrap();
        write_private_below(&base, &target, b"x").unwrap();
        assert_eq!(mode(&base.join("atmos")), 0o700);
        // A link at or above the base (the user's own choice) is still followed.
        let via = t.path().join("via");
        std::os::unix::fs::symlink(&base, &via).unwrap();
        write_private_below(&via, &via.join("atmos/realm/aws/sso/0123/config"), b"y").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"y");
    }

    #[test]
    fn only_regular_files_are_read_and_within_the_cap() {
        let t = tempfile::tempdir().unwrap();
        let pd = create_private_dir(t.path()).unwrap();
        let fifo = t.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let started = std::time::Instant::now();
        let err = pd.read("fifo", 10).unwrap_err();
        assert!(
            matches!(TrustError::of(&err), Some(TrustError::NotRegular { kind: "a FIFO (named pipe)", .. })),
            "{err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "a FIFO must not block the reader");
        fs::create_dir(t.path().join("dir.json")).unwrap();
        assert!(matches!(TrustError::of(&pd.read("dir.json", 10).unwrap_err()), Some(TrustError::NotRegular { .. })));
        assert!(matches!(TrustError::of(&pd.lock_file("dir.json").unwrap_err()), Some(TrustError::NotRegular { .. })));
        fs::write(t.path().join("big"), vec![b'x'; 11]).unwrap();
        assert!(matches!(TrustError::of(&pd.read("big", 10).unwrap_err()), Some(TrustError::TooLarge { .. })));
        assert_eq!(pd.read("big", 11).unwrap().unwrap().len(), 11);
    }

    #[test]
    fn repository_files_are_read_only_when_regular_and_within_the_cap() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a.yaml");
        fs::write(&p, b"abc").unwrap();
        assert_eq!(read_regular(&p, 3).unwrap(), b"abc");
        assert!(matches!(read_regular(&p, 2), Err(BoundedReadError::TooLarge { size: 3 })));
        let missing = read_regular(&t.path().join("missing"), 9);
        assert!(matches!(missing, Err(BoundedReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound));
        let started = std::time::Instant::now();
        let zero = read_regular(Path::new("/dev/zero"), 16);
        assert!(matches!(zero, Err(BoundedReadError::NotRegular("a character device"))));
        assert!(matches!(read_regular(t.path(), 16), Err(BoundedReadError::NotRegular("a directory"))));
        let fifo = t.path().join("fifo.yaml");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(matches!(read_regular(&fifo, 16), Err(BoundedReadError::NotRegular("a FIFO (named pipe)"))));
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
        // procfs reports size 0 for files with contents: the cap is enforced while reading.
        let status = Path::new("/proc/self/status");
        if status.exists() {
            assert!(matches!(read_regular(status, 8), Err(BoundedReadError::TooLarge { size: 9 })));
            assert!(read_regular(status, 1 << 20).is_ok());
        }
    }

    #[test]
    fn stale_temp_files_are_swept() {
        let t = tempfile::tempdir().unwrap();
        let pd = create_private_dir(t.path()).unwrap();
        fs::write(t.path().join(".k.json.123.456.tmp"), b"live secret").unwrap();
        fs::write(t.path().join(".other.json.1.2.tmp"), b"not mine").unwrap();
        assert_eq!(pd.sweep_temps("k.json"), 1);
        assert_eq!(pd.names().unwrap(), vec![".other.json.1.2.tmp".to_string()]);
    }
}
