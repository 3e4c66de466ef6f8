//! OAuth2 for partner systems: `POST /oauth/token` (client-credentials grant, client secret in
//! the form or HTTP Basic) and `GET /.well-known/smart-configuration`. Errors follow RFC 6749
//! §5.2 (`{"error": "invalid_client", "error_description": …}`), never saying which part of a
//! credential was wrong.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use base64::Engine;
use kring_access::Scopes;
use serde::Deserialize;
use serde_json::json;

use super::partners::secret_matches;
use crate::AppState;

#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_TYPE, "application/json"),
        ],
        json!({"error": error, "error_description": description}).to_string(),
    )
        .into_response()
}

/// HTTP Basic client authentication (`client_id:client_secret`).
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// `POST /oauth/token`.
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(req): Form<TokenRequest>,
) -> Response {
    if req.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "this server issues tokens with grant_type=client_credentials",
        );
    }
    if req.client_assertion_type.is_some() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "private_key_jwt is not enabled on this server yet; authenticate with the client secret",
        );
    }
    let (client_id, secret) = match (basic(&headers), req.client_id, req.client_secret) {
        (Some(pair), _, _) => pair,
        (None, Some(id), Some(secret)) => (id, secret),
        _ => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "authenticate with client_id and client_secret (form or HTTP Basic)",
            )
        }
    };
    let partner = match state.record.store().partner(&client_id).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "partner registry unavailable");
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "try again later",
            );
        }
    };
    let Some(partner) = partner.filter(|p| secret_matches(p, &secret)) else {
        tracing::warn!(source = "oauth", "failed client authentication");
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "the client id or secret is not right",
        );
    };
    let granted = match Scopes::parse(&partner.scopes) {
        Ok(s) => s,
        Err(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "the client's registered scopes are invalid",
            )
        }
    };
    let scopes = match req.scope.as_deref() {
        None | Some("") => granted,
        Some(asked) => match Scopes::parse(asked) {
            Ok(asked) => granted.narrowed_to(&asked),
            Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &e.to_string()),
        },
    };
    if scopes.0.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "none of the requested scopes is granted to this client",
        );
    }
    let scope_text = scopes.to_string();
    let (access_token, expires_in) =
        state
            .auth_tokens
            .issue(&partner.client_id, &partner.organisation, scopes);
    (
        StatusCode::OK,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_TYPE, "application/json"),
        ],
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": scope_text,
        })
        .to_string(),
    )
        .into_response()
}

/// `GET /.well-known/smart-configuration`.
pub async fn smart_configuration(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let base = state.public_base(&headers);
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({
            "token_endpoint": format!("{base}/oauth/token"),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "scopes_supported": ["system/*.cruds", "system/*.rs"],
            "capabilities": ["client-confidential-symmetric", "permission-v2"],
        })
        .to_string(),
    )
        .into_response()
}
