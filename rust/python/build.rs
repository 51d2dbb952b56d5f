// Exposes the `Py_3_X` cfgs of the Python being built against, so the hook can pick the
// interpreter mechanism (PEP 523 eval-frame on 3.9-3.11, sys.monitoring on 3.12+) at compile time.
// Also records that version, so that `_core` refuses, at import, to start on another one.
fn main() {
    pyo3_build_config::use_pyo3_cfgs();
    let v = pyo3_build_config::get().version();
    println!("cargo:rustc-env=FPROFILE_BUILT_FOR_PYTHON={}.{}", v.major, v.minor);
}
