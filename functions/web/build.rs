//! Embeds the client: each file of `assets/` (but the index) gets a
//! content-hashed name, and `index.html`'s `{{file}}` placeholders are
//! replaced by those names, so a changed asset is a new URL and browsers
//! may cache every asset forever.

use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

fn main() {
    // Read at run time: a build script compiled for one checkout may be
    // reused by another that shares the target folder.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("assets");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("functions/web/assets exists")
        .map(|e| e.expect("assets entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut index = None;
    let mut table = String::from("/// Every hashed asset: (name, content type, body).\n");
    table.push_str("pub const ASSETS: &[(&str, &str, &[u8])] = &[\n");
    let mut names = Vec::new();
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let file = path
            .file_name()
            .unwrap()
            .to_str()
            .expect("UTF-8 asset names");
        if file == "index.html" {
            index = Some(std::fs::read_to_string(path).expect("index.html reads"));
            continue;
        }
        let body = std::fs::read(path).expect("asset reads");
        let hash = Sha256::digest(&body);
        let short: String = hash[..6].iter().map(|b| format!("{b:02x}")).collect();
        let (stem, ext) = file.rsplit_once('.').unwrap_or((file, ""));
        let hashed = format!("{stem}.{short}.{ext}");
        let _ = writeln!(
            table,
            "    ({hashed:?}, {:?}, include_bytes!({:?})),",
            content_type(ext),
            path.display().to_string()
        );
        names.push((file.to_owned(), hashed));
    }
    table.push_str("];\n");
    let mut index = index.expect("assets/index.html exists");
    for (file, hashed) in &names {
        index = index.replace(&format!("{{{{{file}}}}}"), &format!("/web/{hashed}"));
    }
    assert!(
        !index.contains("{{"),
        "index.html names an asset that is missing"
    );
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).to_path_buf();
    std::fs::write(out.join("index.html"), index).unwrap();
    std::fs::write(out.join("assets.rs"), table).unwrap();
}

fn content_type(ext: &str) -> &'static str {
    match ext {
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" | "webmanifest" => "application/manifest+json",
        "png" => "image/png",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}
