//! The signing directory as keystonemiddleware keeps it (`signing_dir`): created 0700, files
//! replaced atomically (a temporary file in the directory, then a rename), read under the core's
//! limits.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::exit::Failure;
use crate::input::{self, Kind, Source};

/// keystonemiddleware's name for the signing certificate bundle.
pub const SIGNING_CERT: &str = "signing_cert.pem";
/// keystonemiddleware's name for the CA bundle.
pub const CA_CERT: &str = "cacert.pem";
/// keystone's signed revocation list response, kept signed as `kstoken.middleware` keeps it
/// (keystonemiddleware 5.x wrote the unverified JSON as `revoked.pem`; another name keeps the two
/// formats apart).
pub const REVOCATION_LIST: &str = "revoked.signed.pem";

/// Mode of the directory (keystonemiddleware creates it so and warns about any other).
const DIR_MODE: u32 = 0o700;
/// Mode of the files (keystonemiddleware's `mkstemp`).
const FILE_MODE: u32 = 0o600;

/// An existing, writable signing directory.
#[derive(Debug)]
pub struct SigningDir {
    path: PathBuf,
}

/// What writing one file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The file did not exist.
    Created,
    /// The file had other contents.
    Replaced,
    /// The file had these contents already: not rewritten.
    Unchanged,
}

impl SigningDir {
    /// Opens `path`, creating it (mode 0700) when missing. An existing directory that is not
    /// writable is a configuration error (3); a mode other than 0700 or another owner is reported
    /// in `warnings`, as keystonemiddleware logs them.
    pub fn open(path: &Path, warnings: &mut Vec<String>) -> Result<Self, Failure> {
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = meta.permissions().mode() & 0o7777;
                    if mode != DIR_MODE {
                        warnings.push(format!(
                            "signing directory {} has mode {mode:o}, not {DIR_MODE:o}",
                            path.display()
                        ));
                    }
                }
            }
            Ok(_) => {
                return Err(Failure::config(format!(
                    "signing directory {} is not a directory",
                    path.display()
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut builder = fs::DirBuilder::new();
                builder.recursive(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::DirBuilderExt;
                    builder.mode(DIR_MODE);
                }
                builder.create(path).map_err(|e| {
                    Failure::config(format!(
                        "cannot create the signing directory {}: {e}",
                        path.display()
                    ))
                })?;
            }
            Err(e) => {
                return Err(Failure::config(format!(
                    "cannot use the signing directory {}: {e}",
                    path.display()
                )))
            }
        }
        let dir = SigningDir {
            path: path.to_path_buf(),
        };
        let probe = dir.check_writable()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            // The probe is ours: its owner is who we run as.
            if let (Ok(d), Some(p)) = (fs::metadata(path), probe) {
                if d.uid() != p.uid() {
                    warnings.push(format!(
                        "signing directory {} is owned by uid {}, not by uid {} that sync runs \
                         as: run sync as the service's user",
                        path.display(),
                        d.uid(),
                        p.uid()
                    ));
                }
            }
        }
        Ok(dir)
    }

    /// A file created and removed now: a directory we cannot write to is found before keystone is
    /// asked anything. Returns the file's metadata (who owns what we create).
    fn check_writable(&self) -> Result<Option<fs::Metadata>, Failure> {
        let probe = self.temp_path(".kstoken-sync-probe");
        let created = OpenOptions::new().write(true).create_new(true).open(&probe);
        match created {
            Ok(file) => {
                let meta = file.metadata().ok();
                let _ = fs::remove_file(&probe);
                Ok(meta)
            }
            Err(e) => Err(Failure::config(format!(
                "unable to write to the signing directory {}: {e}",
                self.path.display()
            ))),
        }
    }

    /// The path of `name` in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The contents of `name`, `None` when it does not exist; read under the credential limit (a
    /// file over it, or unreadable, is a configuration error, 3).
    pub fn read(&self, name: &str, what: &str) -> Result<Option<Vec<u8>>, Failure> {
        let path = self.file(name);
        if fs::symlink_metadata(&path).is_err() {
            return Ok(None);
        }
        input::read(Source::File(&path), what, Kind::Credential).map(Some)
    }

    fn temp_path(&self, name: &str) -> PathBuf {
        let unique = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        self.path
            .join(format!(".{name}.{}.{unique:09}.tmp", std::process::id()))
    }

    /// Writes `bytes` as `name`: nothing when the file holds them already, else a temporary file
    /// (mode 0600) in the directory, flushed to disk, renamed over `name`, and the directory
    /// synced, so a reader sees the old file or the new one, never a part.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<Written, Failure> {
        let target = self.file(name);
        let existing = fs::symlink_metadata(&target).ok();
        // Compared only when the sizes agree, so an old file is never read past the new size.
        if existing
            .as_ref()
            .is_some_and(|m| m.len() == bytes.len() as u64)
            && fs::read(&target).is_ok_and(|old| old == bytes)
        {
            return Ok(Written::Unchanged);
        }
        let tmp = self.temp_path(name);
        let io_err =
            |e: std::io::Error| Failure::io(format!("cannot write {}: {e}", target.display()));
        let result = (|| {
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(FILE_MODE);
            }
            let mut file = options.open(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&tmp, &target)?;
            File::open(&self.path)?.sync_all()
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(io_err(e));
        }
        Ok(if existing.is_some() {
            Written::Replaced
        } else {
            Written::Created
        })
    }

    /// Sets the modification time of `name` to now without changing its contents: the time a
    /// revocation list was last fetched, which readers take as its age (`kstoken.middleware`
    /// enforces a list read back from the directory for as long as that age allows).
    pub fn touch(&self, name: &str) -> Result<(), Failure> {
        let target = self.file(name);
        OpenOptions::new()
            .write(true)
            .open(&target)
            .and_then(|f| f.set_modified(SystemTime::now()))
            .map_err(|e| {
                Failure::io(format!(
                    "cannot set the modification time of {}: {e}",
                    target.display()
                ))
            })
    }
}
