//! What a FHIR request carries besides its path: the caller, the base URL, `Prefer`,
//! `If-Match`, `_format`/`_pretty`, and the body (size-limited, nesting-limited JSON).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use http_body_util::BodyExt;
use kring_fhir::IssueCode;
use kring_record::{Caller, Handling, Preference};
use serde_json::Value;

use super::FhirError;
use crate::AppState;

/// The request context every FHIR handler starts from.
pub struct Ctx {
    pub caller: Caller,
    pub base: String,
    pub prefer: Preference,
    pub handling: Handling,
    pub pretty: bool,
    pub if_match: Option<i64>,
    pub if_none_exist: Option<String>,
    /// The raw query string, percent-encoded.
    pub query: String,
}

impl Ctx {
    /// The decoded query parameters.
    pub fn params(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }
}

fn parse_prefer(headers: &HeaderMap) -> (Preference, Handling) {
    let mut pref = Preference::Representation;
    let mut handling = Handling::Lenient;
    for v in headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for part in v.split([',', ';']).map(str::trim) {
            match part {
                "return=minimal" => pref = Preference::Minimal,
                "return=representation" => pref = Preference::Representation,
                "return=OperationOutcome" => pref = Preference::OperationOutcome,
                "handling=strict" => handling = Handling::Strict,
                "handling=lenient" => handling = Handling::Lenient,
                _ => {}
            }
        }
    }
    (pref, handling)
}

fn wants_xml(format: &str) -> bool {
    format.contains("xml")
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = FhirError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let source = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "in-process".into());
        let caller = state
            .auth
            .caller(&parts.headers, &source)
            .await
            .map_err(FhirError::unauthenticated)?;
        let base = match &state.http.base_url {
            Some(b) => b.trim_end_matches('/').to_string(),
            None => {
                let host = parts
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("localhost");
                format!("http://{host}/fhir")
            }
        };
        let query = parts.uri.query().unwrap_or("").to_string();
        let pretty = format_of(parts)?.pretty;
        let (prefer, handling) = parse_prefer(&parts.headers);
        let if_match = match parts
            .headers
            .get(header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
        {
            Some(tag) => Some(kring_record::parse_etag(tag).ok_or_else(|| {
                FhirError::bad_request("If-Match must be an ETag such as W/\"3\"")
            })?),
            None => None,
        };
        let if_none_exist = parts
            .headers
            .get("if-none-exist")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(Ctx {
            caller,
            base,
            prefer,
            handling,
            pretty,
            if_match,
            if_none_exist,
            query,
        })
    }
}

/// Reads the body up to the configured limit.
pub async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, FhirError> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(FhirError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                IssueCode::TooLong,
                format!("the request body is larger than the limit of {limit} bytes"),
            ))
        }
        Err(_) => Err(FhirError::bad_request("the request body could not be read")),
    }
}

/// Checks the content type of a body; JSON only (XML answers 415).
pub fn check_content_type(headers: &HeaderMap, patch: bool) -> Result<(), FhirError> {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(());
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ok = matches!(
        mime.as_str(),
        "application/fhir+json" | "application/json" | "application/json+fhir"
    ) || (patch && mime == "application/json-patch+json");
    if ok {
        return Ok(());
    }
    if mime.contains("xml") {
        return Err(FhirError::unsupported_media(
            "FHIR XML is not supported; send the resource as application/fhir+json",
        ));
    }
    Err(FhirError::unsupported_media(format!(
        "the content type '{mime}' is not supported; send application/fhir+json"
    )))
}

/// The deepest nesting of arrays and objects in a JSON text (strings skipped).
pub fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Parses a JSON body within the nesting limit.
pub fn parse_json(bytes: &[u8], max_depth: usize) -> Result<Value, FhirError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FhirError::new(
            StatusCode::BAD_REQUEST,
            IssueCode::Required,
            "the request has no body; send a FHIR resource as JSON",
        ));
    }
    let depth = json_depth(bytes);
    if depth > max_depth {
        return Err(FhirError::new(
            StatusCode::BAD_REQUEST,
            IssueCode::TooCostly,
            format!("the JSON nests {depth} levels deep; at most {max_depth} are accepted"),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        FhirError::new(
            StatusCode::BAD_REQUEST,
            IssueCode::Structure,
            format!("the body is not valid JSON: {e}"),
        )
    })
}

/// Reads, checks and parses a JSON body.
pub async fn json_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    patch: bool,
) -> Result<Value, FhirError> {
    check_content_type(headers, patch)?;
    let bytes = read_body(body, state.http.max_body_bytes).await?;
    parse_json(&bytes, state.http.max_json_depth)
}

/// The response format a request asks for: FHIR JSON, pretty or not. XML is refused with 406.
pub struct Format {
    pub pretty: bool,
}

fn format_of(parts: &Parts) -> Result<Format, FhirError> {
    let query = parts.uri.query().unwrap_or("");
    let mut pretty = false;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "_format" if wants_xml(&v) => {
                return Err(FhirError::new(
                    StatusCode::NOT_ACCEPTABLE,
                    IssueCode::NotSupported,
                    "this server speaks FHIR JSON only; use _format=json",
                ))
            }
            "_format" if !(v.contains("json") || v == "application/fhir+json") => {
                return Err(FhirError::new(
                    StatusCode::NOT_ACCEPTABLE,
                    IssueCode::NotSupported,
                    format!("unknown _format '{v}'; use json"),
                ))
            }
            "_pretty" => pretty = v == "true",
            _ => {}
        }
    }
    if let Some(accept) = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
    {
        let json_ok = accept.contains("json") || accept.contains("*/*") || accept.trim().is_empty();
        if !json_ok && wants_xml(accept) {
            return Err(FhirError::new(
                StatusCode::NOT_ACCEPTABLE,
                IssueCode::NotSupported,
                "this server speaks FHIR JSON only; accept application/fhir+json",
            ));
        }
    }
    Ok(Format { pretty })
}

impl FromRequestParts<AppState> for Format {
    type Rejection = FhirError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        format_of(parts)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(super::json_depth(br#"{"a":[{"b":"[[[{{{"}]}"#), 3);
    }
}
