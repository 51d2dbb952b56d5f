// Exposes the `Py_3_X` cfgs of the Python being built against, so the hook can pick the
// interpreter mechanism (PEP 523 eval-frame on 3.9-3.11, sys.monitoring on 3.12+) at compile time.
fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
