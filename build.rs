//! Embeds every `catalog/*.toml` entry and `catalog/templates/*` file in the binary,
//! so adding a service to the catalog is adding one file.

use std::fs;
use std::path::Path;

fn list(dir: &Path, extension: Option<&str>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.expect("readable catalog entry").path();
        if !path.is_file() {
            continue;
        }
        if let Some(ext) = extension
            && path.extension().and_then(|e| e.to_str()) != Some(ext)
        {
            continue;
        }
        let name = if extension.is_some() {
            path.file_stem()
        } else {
            path.file_name()
        };
        let name = name
            .and_then(|n| n.to_str())
            .expect("utf-8 file name")
            .to_string();
        out.push((name, path.canonicalize().unwrap().display().to_string()));
    }
    out.sort();
    out
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    println!("cargo:rerun-if-changed={}", root.display());
    println!(
        "cargo:rerun-if-changed={}",
        root.join("templates").display()
    );
    let mut code = String::from("pub static ENTRIES: &[(&str, &str)] = &[\n");
    for (name, path) in list(&root, Some("toml")) {
        println!("cargo:rerun-if-changed={path}");
        code.push_str(&format!("    ({name:?}, include_str!({path:?})),\n"));
    }
    code.push_str("];\npub static TEMPLATES: &[(&str, &str)] = &[\n");
    for (name, path) in list(&root.join("templates"), None) {
        println!("cargo:rerun-if-changed={path}");
        code.push_str(&format!("    ({name:?}, include_str!({path:?})),\n"));
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("catalog_entries.rs");
    fs::write(out, code).unwrap();
}
