//! Serving a study's files, and nothing else: a path is taken relative to the study's artefact
//! folder, refused when it is absolute or climbs (`..`), and served only when the file it
//! names — with every symbolic link resolved — lies inside that folder.

use crate::error::DashError;
use std::path::{Component, Path, PathBuf};

/// The file `rel` names inside `root` (canonical), or why it cannot be served.
pub fn resolve(root: &Path, rel: &str) -> Result<PathBuf, DashError> {
    let refuse = |why: &str| DashError::NotFound(format!("no file `{rel}` to serve: {why}"));
    if rel.is_empty() {
        return Err(refuse("no path"));
    }
    if rel.contains('\0') || rel.contains('\\') {
        return Err(refuse(
            "the path holds a character that file paths here do not",
        ));
    }
    let p = Path::new(rel);
    for c in p.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err(refuse("`..` is not allowed")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(refuse("absolute paths are not allowed"));
            }
        }
    }
    let root = root
        .canonicalize()
        .map_err(|_| refuse("the study's artefact folder is gone"))?;
    let full = root
        .join(p)
        .canonicalize()
        .map_err(|_| refuse("it does not exist"))?;
    if !full.starts_with(&root) {
        return Err(refuse("it lies outside the study's artefact folder"));
    }
    if !full.is_file() {
        return Err(refuse("it is not a file"));
    }
    Ok(full)
}

/// The path of `file` relative to `root`, written with `/`, when it lies inside `root` (both
/// after resolving links); used to link a study's artefacts.
pub fn relative_link(root: &Path, file: &Path) -> Option<String> {
    let file = file.canonicalize().ok()?;
    let rel = file.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The content type of a file from its extension; unknown kinds download as bytes.
pub fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("txt" | "log" | "csv" | "toml" | "genotype" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn climbing_and_absolute_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b.txt"), "b").unwrap();
        assert!(resolve(dir.path(), "a.txt").is_ok());
        assert!(resolve(dir.path(), "sub/b.txt").is_ok());
        assert!(resolve(dir.path(), "./sub/b.txt").is_ok());
        for bad in [
            "../a.txt",
            "sub/../../x",
            "/etc/passwd",
            "",
            "sub",
            "nope.txt",
            "a\\b",
        ] {
            assert!(resolve(dir.path(), bad).is_err(), "{bad}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn links_out_of_the_folder_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "s").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), dir.path().join("link"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("d")).unwrap();
        assert!(resolve(dir.path(), "link").is_err());
        assert!(resolve(dir.path(), "d/secret.txt").is_err());
    }
}
