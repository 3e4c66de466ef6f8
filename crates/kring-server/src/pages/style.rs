//! The pages' stylesheets: the NL Design System's built CSS (components, the HTML element
//! styles and the design tokens, vendored by `scripts/vendor-nlds.sh` into `static/nlds/`)
//! and Kring's own layout (`static/kring.css`), compiled into the binary and served with a
//! day's cache; and the one small script that prints a page.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

const COMPONENTS: &str = include_str!("../../static/nlds/components.css");
const HTML: &str = include_str!("../../static/nlds/html.css");
const TOKENS: &str = include_str!("../../static/nlds/tokens.css");
const KRING: &str = include_str!("../../static/kring.css");

/// `GET /static/nlds/{file}`.
pub async fn stylesheet(Path(file): Path<String>) -> Response {
    let css = match file.as_str() {
        "components.css" => COMPONENTS,
        "html.css" => HTML,
        "tokens.css" => TOKENS,
        "kring.css" => KRING,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        css,
    )
        .into_response()
}

/// `GET /static/print.js`: shows the print buttons (`data-print`) and prints on a click. A
/// page works without it; the script is a file because the pages allow no inline script.
pub async fn print_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        "document.querySelectorAll('[data-print]').forEach(function (b) {\n  b.hidden = false;\n  b.addEventListener('click', function () { window.print(); });\n});\n",
    )
        .into_response()
}
