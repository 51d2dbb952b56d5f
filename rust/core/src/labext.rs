//! The prebuilt JupyterLab / Notebook 7 extension `fprofile-jupyter`: its files, made from the
//! embedded timeline assets ([`crate::assets`]). The package build writes them into the wheel's
//! data folder (`rust/python/build.rs`, into `python/fprofile_jupyter.data/data/share/jupyter/
//! labextensions/fprofile-jupyter/`, not committed), so pip installs them under
//! `<prefix>/share/jupyter/labextensions/fprofile-jupyter/`, where JupyterLab and Notebook 7 look.
//!
//! The files: `static/timeline.<hash>.js` is the widget's bundle (`assets::bundle("widget")`, the
//! text of `TimelineWidget._esm`), `static/timeline.<hash>.css` the timeline's stylesheet,
//! `static/remoteEntry.<hash>.js` the container `js/hosts/lab.js` with that hash filled in, and
//! `package.json` naming the container. The hash (the first 16 hex digits of the SHA-256 of the
//! three texts) changes with their content, so a browser never keeps an old bundle.

use sha2::{Digest, Sha256};
use std::path::Path;

use crate::assets;

/// The extension's name (its folder, and `name` in its `package.json`).
pub const NAME: &str = "fprofile-jupyter";
/// Where the extension sits under the prefix (and in the wheel's data folder, under `data/`).
pub const INSTALL_PATH: &str = "share/jupyter/labextensions/fprofile-jupyter";
/// The line of `js/hosts/lab.js` that the hash replaces.
const HASH_LINE: &str = "const LAB_ASSET_HASH = \"dev\";";

/// Every file of the extension for package version `version`, as (path relative to its folder,
/// content), sorted by path. An error names what is missing in the embedded `js/`.
pub fn files(version: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let module = assets::bundle("widget").ok_or("the embedded js/ has no widget bundle (js/bundle.json)")?;
    let css = assets::css();
    let entry = assets::source("hosts/lab.js").ok_or("the embedded js/ has no hosts/lab.js")?;
    if entry.matches(HASH_LINE).count() != 1 {
        return Err(format!("js/hosts/lab.js must hold the line {HASH_LINE:?} exactly once"));
    }
    let mut sha = Sha256::new();
    sha.update(module.as_bytes());
    sha.update([0u8]);
    sha.update(css.as_bytes());
    sha.update([0u8]);
    sha.update(entry.as_bytes());
    let digest: String = sha.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let entry = entry.replace(HASH_LINE, &format!("const LAB_ASSET_HASH = \"{digest}\";"));
    let package = serde_json::json!({
        "name": NAME,
        "version": version,
        "description": "Draws fprofile-jupyter timelines from the notebook output, with or without a kernel.",
        "license": "MIT",
        "jupyterlab": {"_build": {"load": format!("static/remoteEntry.{digest}.js"), "mimeExtension": "./mimeExtension"}},
    });
    let package = serde_json::to_string_pretty(&package).map_err(|e| e.to_string())? + "\n";
    let mut out = vec![
        ("package.json".to_string(), package.into_bytes()),
        (format!("static/remoteEntry.{digest}.js"), entry.into_bytes()),
        (format!("static/timeline.{digest}.css"), css.into_bytes()),
        (format!("static/timeline.{digest}.js"), module.into_bytes()),
    ];
    out.sort();
    Ok(out)
}

/// Write the extension into `folder` (its `static/` emptied first, so no older bundle stays);
/// a file whose content is already that is left untouched. Returns the paths written.
pub fn write(folder: &Path, version: &str) -> Result<Vec<String>, String> {
    let files = files(version)?;
    let static_dir = folder.join("static");
    if let Ok(entries) = std::fs::read_dir(&static_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !files.iter().any(|(rel, _)| rel.strip_prefix("static/") == Some(name.as_str())) {
                std::fs::remove_file(e.path()).map_err(|err| format!("cannot remove {}: {err}", e.path().display()))?;
            }
        }
    }
    let mut written = Vec::new();
    for (rel, data) in &files {
        let path = folder.join(rel);
        if std::fs::read(&path).ok().as_deref() == Some(data.as_slice()) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, data).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(rel.clone());
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_name_one_hash_and_hold_the_bundle() {
        let files = files("1.2.3").unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), 4);
        let entry = names.iter().find(|n| n.starts_with("static/remoteEntry.")).unwrap();
        let digest = &entry["static/remoteEntry.".len()..entry.len() - 3];
        assert_eq!(digest.len(), 16);
        assert!(names.contains(&format!("static/timeline.{digest}.js").as_str()));
        assert!(names.contains(&format!("static/timeline.{digest}.css").as_str()));
        let get = |n: &str| &files.iter().find(|(k, _)| k == n).unwrap().1;
        assert_eq!(get(&format!("static/timeline.{digest}.js")), assets::bundle("widget").unwrap().as_bytes());
        let package: serde_json::Value = serde_json::from_slice(get("package.json")).unwrap();
        assert_eq!(package["version"], "1.2.3");
        assert_eq!(package["jupyterlab"]["_build"]["load"], format!("static/{}", &entry["static/".len()..]));
        let container = String::from_utf8(get(entry).clone()).unwrap();
        assert!(container.contains(&format!("const LAB_ASSET_HASH = \"{digest}\";")));
        assert!(!container.contains(HASH_LINE));
    }

    #[test]
    fn write_replaces_an_older_bundle_and_keeps_what_is_current() {
        let dir = std::env::temp_dir().join(format!("fprofile-labext-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("static")).unwrap();
        std::fs::write(dir.join("static/timeline.0123456789abcdef.js"), "old").unwrap();
        let first = write(&dir, "0.1.0").unwrap();
        assert_eq!(first.len(), 4);
        assert!(!dir.join("static/timeline.0123456789abcdef.js").exists());
        assert!(write(&dir, "0.1.0").unwrap().is_empty(), "a second write changes nothing");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir.join("static"))
            .unwrap()
            .flatten()
            .map(|e| format!("static/{}", e.file_name().to_string_lossy()))
            .collect();
        on_disk.push("package.json".into());
        on_disk.sort();
        let want: Vec<String> = files("0.1.0").unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(on_disk, want);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
