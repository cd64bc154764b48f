//! The gas report page: one static HTML file (inline CSS and JavaScript, no external resources)
//! served on the JSON-RPC port at `GET /` and `GET /ui`. It reads everything it shows through
//! JSON-RPC on the same origin (`fetch`, POST): recent blocks, one transaction's receipt with its
//! gas breakdown as a bar chart, its trace tree (`audit_trace`) and its replay (`audit_replay`).
//!
//! ```text
//! GET / or /ui (not a WebSocket upgrade) ──▶ PAGE (text/html, strict CSP)
//! everything else ─────────────────────────▶ jsonrpsee (POST, WebSocket, limits)
//! ```
//!
//! ```
//! use opmeter_rpc::ui::{is_page_request, PAGE};
//! let get = hyper::Request::get("/ui").body(()).unwrap();
//! assert!(is_page_request(&get));
//! let post = hyper::Request::post("/").body(()).unwrap();
//! assert!(!is_page_request(&post));
//! assert!(PAGE.contains("gas-total"));
//! ```

use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use jsonrpsee::server::{HttpBody, HttpResponse};

/// The page, embedded at compile time from `rpc/ui/index.html`.
pub const PAGE: &str = include_str!("../ui/index.html");

/// The page's `Content-Security-Policy`: nothing may load from anywhere (no images, fonts,
/// frames, external scripts or styles); only the page's own inline script and style run, and it
/// may only talk to its own origin (the JSON-RPC endpoint). Every value the page shows comes
/// from the chain (contract method names, event data…) and is written as text, never as HTML;
/// the policy is the second line of defence.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The paths the page is served at.
pub const PAGE_PATHS: [&str; 2] = ["/", "/ui"];

/// Whether `request` asks for the page: `GET` or `HEAD` of `/` or `/ui` that is not a WebSocket
/// upgrade. JSON-RPC over HTTP is always a `POST`, and a WebSocket handshake is a `GET` with
/// `Upgrade: websocket`; both go to the JSON-RPC server as before.
pub fn is_page_request<B>(request: &Request<B>) -> bool {
    let method = request.method();
    (method == Method::GET || method == Method::HEAD)
        && PAGE_PATHS.contains(&request.uri().path())
        && !request.headers().contains_key(header::UPGRADE)
}

/// The page's response: `200`, `text/html; charset=utf-8`, [`CONTENT_SECURITY_POLICY`], not
/// cached (a node upgrade changes the page), not framed, not sniffed.
pub fn page_response() -> HttpResponse {
    let mut response = HttpResponse::new(HttpBody::from(PAGE));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, path: &str) -> Request<()> {
        Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap()
    }

    #[test]
    fn only_plain_gets_of_the_page_paths_are_the_page() {
        for path in ["/", "/ui", "/?x=1", "/ui?tx=1"] {
            assert!(is_page_request(&request(Method::GET, path)), "{path}");
            assert!(is_page_request(&request(Method::HEAD, path)), "{path}");
        }
        for (method, path) in [
            (Method::POST, "/"),
            (Method::POST, "/ui"),
            (Method::PUT, "/"),
            (Method::OPTIONS, "/"),
            (Method::GET, "/favicon.ico"),
            (Method::GET, "/ui/"),
            (Method::GET, "/index.html"),
        ] {
            assert!(
                !is_page_request(&request(method.clone(), path)),
                "{method} {path}"
            );
        }
        // A WebSocket handshake on `/` stays JSON-RPC.
        let upgrade = Request::get("/")
            .header(header::UPGRADE, "websocket")
            .header(header::CONNECTION, "Upgrade")
            .body(())
            .unwrap();
        assert!(!is_page_request(&upgrade));
    }

    #[test]
    fn the_page_is_html_with_a_strict_policy_and_no_external_resources() {
        let response = page_response();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        assert!(csp.contains("connect-src 'self'"), "{csp}");
        // Nothing is loaded from elsewhere: no URLs, no external script or style sheets.
        for forbidden in [
            "http://",
            "https://",
            "<script src",
            "<link",
            "@import",
            "//cdn",
        ] {
            assert!(!PAGE.contains(forbidden), "the page contains {forbidden}");
        }
        // Data is written as text, never parsed as HTML.
        assert!(!PAGE.contains("innerHTML"));
        for id in ["gas-total", "replay-status", "trace", "blocks", "receipt"] {
            assert!(PAGE.contains(&format!("id=\"{id}\"")), "no #{id}");
        }
    }
}
