// The binding's build script:
// - exposes the `Py_3_X` cfgs of the Python being built against, so the hook can pick the
//   interpreter mechanism (PEP 523 eval-frame on 3.9-3.11, sys.monitoring on 3.12+) at compile time;
// - writes the JupyterLab / Notebook 7 extension (fprofile::labext: the widget's bundle made from
//   js/, its stylesheet, the container js/hosts/lab.js, package.json) into the wheel's data folder,
//   python/fprofile_jupyter.data/data/share/jupyter/labextensions/fprofile-jupyter/, which maturin
//   packs after the compilation, so every wheel (pip install ., maturin build, scripts/wheels.sh,
//   a build from the sdist) holds the extension of the js/ it was built from, and git holds none.
//   It runs again when the embedded js/ changes (the `fprofile` build-dependency is rebuilt then)
//   or when a file of the extension is missing.
use std::path::PathBuf;

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let package = manifest.join("../../python/fprofile_jupyter");
    if !package.is_dir() {
        // the crate built outside the repository's layout (no Python package to put it in)
        println!("cargo:warning=no python/fprofile_jupyter next to the crate: the JupyterLab extension is not written");
        return;
    }
    let folder = manifest.join("../../python/fprofile_jupyter.data/data").join(fprofile::labext::INSTALL_PATH);
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    if let Err(e) = fprofile::labext::write(&folder, &version) {
        eprintln!("error: the JupyterLab extension could not be written: {e}");
        std::process::exit(1);
    }
    match fprofile::labext::files(&version) {
        Ok(files) => {
            for (rel, _) in files {
                println!("cargo:rerun-if-changed={}", folder.join(rel).display());
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
