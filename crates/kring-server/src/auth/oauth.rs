//! OAuth2 for partner systems: `POST /oauth/token` (client-credentials grant; the client signs
//! a JWT assertion with its private key — SMART Backend Services' private_key_jwt — or sends its
//! secret in the form or HTTP Basic) and `GET /.well-known/smart-configuration`. Errors follow RFC 6749
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
    client_assertion: Option<String>,
}

/// The assertion type of SMART Backend Services (RFC 7523).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: u64,
    jti: String,
}

/// Checks a private_key_jwt client assertion: signed (RS384 or ES384) by a key of the client's
/// registered set, issued by and about the client, for this token endpoint, expiring within
/// five minutes, and never seen before. Returns the client.
async fn asserted_client(
    state: &AppState,
    token_url: &str,
    assertion: &str,
) -> Result<kring_store::PartnerClient, &'static str> {
    use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
    const BAD: &str = "the client assertion is not valid";
    let header = decode_header(assertion).map_err(|_| BAD)?;
    if !matches!(header.alg, Algorithm::RS384 | Algorithm::ES384) {
        return Err("sign the client assertion with RS384 or ES384");
    }
    // Who claims to be asking (not yet trusted): the key to check against is theirs.
    let mut peek = Validation::new(header.alg);
    peek.insecure_disable_signature_validation();
    peek.validate_aud = false;
    peek.validate_exp = false;
    peek.set_required_spec_claims::<&str>(&[]);
    let claimed = decode::<AssertionClaims>(assertion, &DecodingKey::from_secret(&[]), &peek)
        .map_err(|_| BAD)?
        .claims;
    let partner = state
        .accounts
        .partner(&claimed.sub)
        .await
        .map_err(|_| "try again later")?
        .ok_or(BAD)?;
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_str(partner.jwks.as_deref().ok_or(BAD)?).map_err(|_| BAD)?;
    let jwk = match &header.kid {
        Some(kid) => set.find(kid),
        None if set.keys.len() == 1 => set.keys.first(),
        None => None,
    }
    .ok_or(BAD)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| BAD)?;
    let mut v = Validation::new(header.alg);
    v.set_audience(&[token_url]);
    v.set_issuer(&[&partner.client_id]);
    v.sub = Some(partner.client_id.clone());
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    v.leeway = 30;
    let claims = decode::<AssertionClaims>(assertion, &key, &v)
        .map_err(|_| BAD)?
        .claims;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if claims.exp > now + 300 || claims.iss != partner.client_id {
        return Err("a client assertion expires within five minutes");
    }
    if !state
        .auth_tokens
        .first_use(&partner.client_id, &claims.jti, claims.exp)
    {
        return Err("this client assertion has been used already");
    }
    Ok(partner)
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
    super::Source(source): super::Source,
    headers: HeaderMap,
    Form(req): Form<TokenRequest>,
) -> Response {
    if let Some(wait) = state.throttle.wait(&source) {
        return super::too_many(wait);
    }
    let (res, partner) = token_for(&state, &headers, req).await;
    if res.status() == StatusCode::UNAUTHORIZED {
        state.throttle.failed(&source);
    }
    // A partner system's sign-in: no token leaves that the log has not taken.
    let ok = res.status() == StatusCode::OK;
    let who = match &partner {
        Some(p) => super::events::Who::Partner {
            client_id: &p.client_id,
            organisation: &p.organisation,
        },
        None => super::events::Who::Unknown,
    };
    let outcome = if ok { "success" } else { "failed" };
    let logged = super::events::log(
        &state.record,
        "token",
        outcome,
        who,
        "kring-api",
        &source,
        &headers,
    )
    .await;
    if ok && logged.is_err() {
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the access log cannot be written at the moment; try again later",
        );
    }
    res
}

async fn token_for(
    state: &AppState,
    headers: &HeaderMap,
    req: TokenRequest,
) -> (Response, Option<kring_store::PartnerClient>) {
    match authenticated_token(state, headers, req).await {
        Ok((res, partner)) => (res, Some(partner)),
        Err(res) => (res, None),
    }
}

async fn authenticated_token(
    state: &AppState,
    headers: &HeaderMap,
    req: TokenRequest,
) -> Result<(Response, kring_store::PartnerClient), Response> {
    if req.grant_type.as_deref() != Some("client_credentials") {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "this server issues tokens with grant_type=client_credentials",
        ));
    }
    let token_url = format!("{}/oauth/token", state.public_base(headers));
    let partner = match req.client_assertion_type.as_deref() {
        Some(JWT_BEARER) => {
            let Some(assertion) = req.client_assertion.as_deref() else {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "client_assertion is missing",
                ));
            };
            match asserted_client(state, &token_url, assertion).await {
                Ok(p) => p,
                Err(why) => {
                    tracing::warn!(source = "oauth", "refused client assertion");
                    return Err(oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", why));
                }
            }
        }
        Some(_) => return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )),
        None => secret_client(state, headers, req.client_id, req.client_secret).await?,
    };
    Ok((issue(state, &partner, req.scope.as_deref()).await, partner))
}

/// The client of a client-secret request (form or HTTP Basic), or the error response.
async fn secret_client(
    state: &AppState,
    headers: &HeaderMap,
    client_id: Option<String>,
    client_secret: Option<String>,
) -> Result<kring_store::PartnerClient, Response> {
    let (client_id, secret) = match (basic(headers), client_id, client_secret) {
        (Some(pair), _, _) => pair,
        (None, Some(id), Some(secret)) => (id, secret),
        _ => {
            return Err(oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "authenticate with client_id and client_secret (form or HTTP Basic), or a client assertion (private_key_jwt)",
            ))
        }
    };
    let partner = match state.accounts.partner(&client_id).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "partner registry unavailable");
            return Err(oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "try again later",
            ));
        }
    };
    partner
        .filter(|p| secret_matches(p, &secret))
        .ok_or_else(|| {
            tracing::warn!(source = "oauth", "failed client authentication");
            oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "the client id or secret is not right",
            )
        })
}

/// Issues a token for an authenticated client, with the scopes asked for as far as granted.
async fn issue(
    state: &AppState,
    partner: &kring_store::PartnerClient,
    asked: Option<&str>,
) -> Response {
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
    let scopes = match asked {
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
    let (access_token, expires_in) = match state
        .auth_tokens
        .issue(&partner.client_id, &partner.organisation, scopes)
        .await
    {
        Ok(issued) => issued,
        Err(e) => {
            tracing::error!(error = %e, "a token could not be kept for the other servers");
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the token cannot be issued now; try again shortly",
            );
        }
    };
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
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_post", "client_secret_basic"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "scopes_supported": ["system/*.cruds", "system/*.rs"],
            "capabilities": ["client-confidential-asymmetric", "client-confidential-symmetric", "permission-v2"],
        })
        .to_string(),
    )
        .into_response()
}
