//! Rewrites `test-vectors/vectors/` (and the verifier's doc example) from the generator.

use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join(licet_test_vectors::DIR);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let files = licet_test_vectors::generate();
    for (path, content) in &files {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content)?;
    }
    println!("wrote {} files", files.len());
    Ok(())
}
