//! Embedded timeline assets: the `js/` folder (rust-embed, embedded in debug builds too through the
//! `debug-embed` feature, so a moved checkout cannot break an installed extension).
//!
//! [`bundle`] builds ONE self-contained ES module for a host by concatenating the timeline modules
//! in the order of `js/bundle.json` and stripping their `import` lines (the modules keep every
//! import on one line at the top and use distinct top-level names: see `js/README.md`), then the
//! host's own file (`js/hosts/<host>.js`, its import of `../timeline.js` stripped the same way). [`css`] is the timeline's stylesheet.

use rust_embed::RustEmbed;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(RustEmbed)]
#[folder = "../../js/"]
struct JsFolder;

#[derive(Deserialize)]
struct Manifest {
    modules: Vec<String>,
    hosts: BTreeMap<String, String>,
    css: Vec<String>,
}

/// The notebook fragment's script (`js/dist/fragment.min.js`: `js/hosts/fragment.js` and the timeline
/// minified by esbuild, `npm run build`; committed), included at compile time so that a missing or
/// truncated file fails the build, not a user's notebook. Python puts it in the `text/html` of a
/// displayed trace (`python/fprofile_jupyter/_display.py`).
pub const FRAGMENT_JS: &str = include_str!("../../../js/dist/fragment.min.js");
const _: () = assert!(
    FRAGMENT_JS.len() > 50_000 && FRAGMENT_JS.len() < 150 * 1024,
    "js/dist/fragment.min.js is missing, truncated or too large: run `npm run build`"
);

/// The hosts a bundle can be built for.
pub const HOSTS: [&str; 3] = ["widget", "viewer", "export"];

fn text(path: &str) -> Option<String> {
    let file = JsFolder::get(path)?;
    String::from_utf8(file.data.into_owned()).ok()
}

fn manifest() -> Option<Manifest> {
    serde_json::from_str(&text("bundle.json")?).ok()
}

/// The source of one embedded file of `js/` (e.g. `"decode.js"`), if present.
pub fn source(path: &str) -> Option<String> {
    text(path)
}

/// Is this line an import statement to strip? Only top-level one-line imports of sibling modules.
fn is_import_line(line: &str) -> bool {
    line.starts_with("import ") && (line.contains(" from \"./") || line.contains(" from \"../"))
}

/// The single-module bundle for `host` ("widget", "viewer" or "export"): no imports, everything the
/// timeline needs in one ES module. `None` for an unknown host (or a build missing `js/`).
pub fn bundle(host: &str) -> Option<String> {
    let m = manifest()?;
    let host_file = m.hosts.get(host)?;
    let mut out = String::with_capacity(160 * 1024);
    out.push_str(&format!(
        "// fprofile-jupyter {} timeline bundle for host \"{host}\": js/{} + js/{host_file}\n",
        env!("CARGO_PKG_VERSION"),
        m.modules.join(" + js/"),
    ));
    for path in m.modules.iter().chain(std::iter::once(host_file)) {
        let src = text(path)?;
        out.push_str(&format!("\n// ---- js/{path} ----\n"));
        for line in src.lines() {
            if is_import_line(line) {
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
    }
    Some(out)
}

/// The timeline's stylesheet (every host).
pub fn css() -> String {
    let Some(m) = manifest() else { return String::new() };
    let mut out = String::new();
    for path in &m.css {
        if let Some(src) = text(path) {
            out.push_str(&src);
            out.push('\n');
        }
    }
    out
}
