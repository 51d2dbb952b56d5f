//! A trace shown in the evcxr Rust Jupyter kernel: [`Trace::evcxr_display`] prints the
//! evcxr_runtime output protocol with the self-contained page ([`crate::formats::html`]) in an
//! `iframe`, and the static picture ([`crate::formats::png`]) for where HTML is not drawn.

use crate::model::Trace;

/// The start and end markers of evcxr_runtime's output protocol.
pub const EVCXR_BEGIN: &str = "EVCXR_BEGIN_CONTENT";
pub const EVCXR_END: &str = "EVCXR_END_CONTENT";

/// Height of the timeline frame shown in a Rust notebook, CSS px.
const EVCXR_FRAME_PX: u32 = 760;

impl Trace {
    /// The HTML shown in a notebook output: the self-contained export in a sandbox-free `iframe`
    /// (its `srcdoc`), so its styles and script stay apart from the notebook page.
    pub fn notebook_html(&self) -> String {
        let page = crate::formats::html::to_html(self, "fprofile trace");
        format!(
            "<iframe class=\"fprofile-frame\" title=\"fprofile timeline\" style=\"width:100%;height:{EVCXR_FRAME_PX}px;border:0\" srcdoc=\"{}\"></iframe>",
            crate::escape::html_escape(&page)
        )
    }

    /// What [`Trace::evcxr_display`] prints: the evcxr_runtime mime protocol with `text/html` and
    /// `image/png` (base64; the static picture, [`crate::formats::png`]), which evcxr gathers
    /// into one output: the timeline where HTML is drawn, the picture in a saved notebook on
    /// GitHub or in nbconvert's PDF.
    pub fn evcxr_content(&self) -> String {
        use base64::Engine;
        let mut out = format!("{EVCXR_BEGIN} text/html\n{}\n{EVCXR_END}\n", self.notebook_html());
        let width = i128::from(crate::formats::png::DEFAULT_WIDTH_PX);
        if let Ok(png) = crate::formats::png::to_png(self, &crate::formats::png::title_of(self), width) {
            let b64 = base64::engine::general_purpose::STANDARD.encode(png);
            out.push_str(&format!("{EVCXR_BEGIN} image/png\n{b64}\n{EVCXR_END}\n"));
        }
        out
    }

    /// Display in the evcxr Jupyter kernel (it calls `evcxr_display` on a cell's last expression):
    /// the interactive timeline and summary, as in the HTML export.
    pub fn evcxr_display(&self) {
        use std::io::Write;
        let content = self.evcxr_content();
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        // A closed stdout is not worth a panic in a notebook kernel.
        let _ = lock.write_all(content.as_bytes());
        let _ = lock.flush();
    }
}
