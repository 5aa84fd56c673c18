//! The data directory is the server's alone: created 0700, its files 0600.

/// Creates `dir` (and missing parents) with mode 0700.
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Makes every directory under `dir` (itself included) 0700 and every file 0600 where group or
/// others had any access; returns how many were changed. Links are left alone.
#[cfg(unix)]
pub fn tighten(dir: &std::path::Path) -> std::io::Result<usize> {
    use std::os::unix::fs::PermissionsExt;
    let mut changed = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        let want = if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
            0o700
        } else if meta.is_file() {
            0o600
        } else {
            continue;
        };
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o700 | want))?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// Permissions are the platform's elsewhere.
#[cfg(not(unix))]
pub fn tighten(_dir: &std::path::Path) -> std::io::Result<usize> {
    Ok(0)
}
