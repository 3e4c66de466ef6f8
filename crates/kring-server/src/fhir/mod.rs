//! The FHIR R4 REST API, mounted at `/fhir`. One file per interaction family; routes here.

mod audit;
mod bundle;
mod capability;
mod error;
mod history;
mod read;
mod request;
mod response;
mod search;
mod write;

use axum::routing::get;
use axum::Router;

pub use error::FhirError;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", axum::routing::post(bundle::process))
        .route("/metadata", get(capability::metadata))
        .route("/_history", get(history::system))
        // The access log: its own routes, before the generic ones (static segments win).
        .route(
            "/AuditEvent",
            get(audit::search_get)
                .post(audit::append_only)
                .put(audit::append_only)
                .delete(audit::append_only),
        )
        .route(
            "/AuditEvent/_search",
            axum::routing::post(audit::search_post),
        )
        .route("/AuditEvent/_history", get(audit::append_only))
        .route(
            "/AuditEvent/{id}",
            get(audit::read)
                .put(audit::append_only)
                .patch(audit::append_only)
                .delete(audit::append_only),
        )
        .route("/AuditEvent/{id}/_history", get(audit::append_only))
        .route("/AuditEvent/{id}/_history/{vid}", get(audit::append_only))
        .route(
            "/{rtype}",
            get(search::search_get)
                .post(write::create)
                .put(write::conditional_update)
                .delete(write::conditional_delete),
        )
        .route("/{rtype}/_search", axum::routing::post(search::search_post))
        .route("/{rtype}/_history", get(history::of_type))
        .route(
            "/{rtype}/{id}",
            get(read::read)
                .put(write::update)
                .patch(write::patch)
                .delete(write::delete),
        )
        .route("/{rtype}/{id}/_history", get(history::instance))
        .route("/{rtype}/{id}/_history/{vid}", get(read::vread))
        .route("/{rtype}/{id}/{operation}", get(search::operation))
        .fallback(error::unknown_route)
}
