//! HTTP/1.1 requests to a REST server a test started, over a plain TCP stream.

/// `GET path` on a local HTTP server; returns (status, body).
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    http(addr, "GET", path, None)
}

/// One HTTP/1.1 request with an optional JSON body; returns the status and the body.
pub fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A request whose JSON answer is parsed; panics on another status than `expect`.
pub fn http_json(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    expect: u16,
) -> serde_json::Value {
    let (status, text) = http(addr, method, path, body);
    assert_eq!(status, expect, "{method} {path}: {text}");
    if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }
}

/// The class names `GET /connector-plugins` lists, in its order.
pub fn plugin_classes(addr: std::net::SocketAddr) -> Vec<String> {
    let plugins = http_json(addr, "GET", "/connector-plugins", None, 200);
    plugins
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {plugins}"))
        .iter()
        .map(|p| p["class"].as_str().unwrap().to_string())
        .collect()
}
