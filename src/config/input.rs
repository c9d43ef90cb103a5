//! Reading a user's input file: a target file, a policy, a feature file, a password file, a CA.
//! Only regular files (a FIFO would block the run forever, `/dev/zero` would grow it without end,
//! a directory is a mistake), and at most a size that no real one of its kind reaches, read
//! with that bound so a file that grows while it is read is cut, not followed.

use std::io::Read as _;
use std::path::Path;

/// The largest YAML file (target, policy) or feature file the harness reads.
pub const MAX_TEXT: u64 = 4 * 1024 * 1024;
/// The largest password file (its first line is the password).
pub const MAX_PASSWORD_FILE: u64 = 64 * 1024;
/// The largest CA file (a bundle of PEM certificates).
pub const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// Reads `path` as UTF-8 text if it is a regular file of at most `limit` bytes; the error says
/// what the path is instead (and never shows the content).
pub fn read_text(path: &Path, limit: u64) -> Result<String, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        use std::os::unix::fs::FileTypeExt as _;
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO (a named pipe)"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(format!(
            "{} is {what}; give the path of a regular file",
            path.display()
        ));
    }
    if meta.len() > limit {
        return Err(format!(
            "{} is {} bytes, more than the {limit} a file of this kind can need",
            path.display(),
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "{} grew past {limit} bytes while it was read",
            path.display()
        ));
    }
    let text =
        String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))?;
    // A byte order mark (Notepad, PowerShell 5 write one) is not part of the text: left in, it
    // would be read as part of the first key.
    Ok(text
        .strip_prefix('\u{feff}')
        .map(str::to_string)
        .unwrap_or(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.yaml");
        std::fs::write(&file, "name: t\n").unwrap();
        assert_eq!(read_text(&file, 100).unwrap(), "name: t\n");
        assert!(read_text(&file, 3).unwrap_err().contains("more than the 3"));
        assert!(
            read_text(dir.path(), 100)
                .unwrap_err()
                .contains("a directory")
        );
        assert!(
            read_text(Path::new("/dev/zero"), 100)
                .unwrap_err()
                .contains("a device")
        );
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) with a valid, NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(read_text(&fifo, 100).unwrap_err().contains("FIFO"));
        std::fs::write(&file, "\u{feff}name: t\n").unwrap();
        assert_eq!(read_text(&file, 100).unwrap(), "name: t\n");
        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        assert!(read_text(&file, 100).unwrap_err().contains("not UTF-8"));
    }
}
