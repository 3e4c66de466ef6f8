//! The web pages for people: sign-in with two factors, "my clients", the client page with
//! "why can I see this?", the circle page of the case director, emergency access, the
//! administrator's start page, and the client's own Kring (the portal: start page, circle,
//! consent, who looked, the record to take along).
//! Server-rendered (askama), Dutch by default with English (`?lang=en`), usable with the
//! keyboard and a screen reader, styled with the NL Design System (`static/nlds/`). Every
//! piece of client data on a page is fetched through the record, so it is decided and logged
//! like any API call.
//!
//! The edge every page shares: [`person::Person`] (who is signed in, one extractor),
//! [`form::CsrfForm`] (every POST, its token checked), [`error::PageError`] (every failure, a
//! page of its own), [`i18n`] (Fluent texts with arguments) and [`dates`] (Dutch dates).

pub(crate) mod access_log;
mod admin;
mod circle;
mod client_ctx;
mod clients;
mod consent;
mod continuity;
pub mod dates;
mod emergency;
pub mod error;
pub mod form;
pub mod i18n;
mod meldcode;
mod messages;
pub(crate) mod names;
mod oversight;
mod passkeys;
pub mod person;
mod portal;
mod reasons;
mod render;
pub(crate) mod sharing;
mod signin;
mod style;
mod visits;
pub(crate) mod work;

use axum::routing::{get, post};
use axum::Router;

pub use person::{Frame, PageLang, Person};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(clients::home))
        .route("/inloggen", get(signin::form).post(signin::password))
        .route("/inloggen/code", get(signin::code_form).post(signin::code))
        .route("/inloggen/passkey/opties", post(passkeys::sign_in_options))
        .route("/inloggen/passkey", post(passkeys::sign_in))
        .route("/beveiliging", get(passkeys::page))
        .route(
            "/beveiliging/passkeys/opties",
            post(passkeys::registration_options),
        )
        .route("/beveiliging/passkeys", post(passkeys::register))
        .route("/beveiliging/passkeys/verwijderen", post(passkeys::remove))
        .route("/static/passkey.js", get(passkeys::script))
        .route("/static/nlds/{file}", get(style::stylesheet))
        .route("/static/print.js", get(style::print_script))
        .route("/beheer", get(admin::home))
        .route("/beheer/continuiteit", get(continuity::page))
        .route("/uitloggen", post(signin::sign_out))
        .route("/uitloggen/overal", post(signin::sign_out_everywhere))
        .route(
            "/clienten",
            get(clients::my_clients).post(clients::search_clients),
        )
        .route("/clienten/{id}", get(clients::client_page))
        .route("/clienten/{id}/plan", get(work::plan::page))
        .route("/clienten/{id}/plan/aanmaken", post(work::plan::make))
        .route(
            "/clienten/{id}/plan/afspraken",
            post(work::plan::add_agreement),
        )
        .route(
            "/clienten/{id}/plan/afspraken/wijzigen",
            post(work::plan::change),
        )
        .route("/clienten/{id}/plan/doelen", post(work::plan::add_goal))
        .route(
            "/clienten/{id}/plan/doelen/evalueren",
            post(work::plan::evaluate_goal),
        )
        .route(
            "/clienten/{id}/rapportages",
            get(work::reports::list).post(work::reports::write),
        )
        .route(
            "/clienten/{id}/rapportages/{rid}",
            get(work::reports::one).post(work::reports::correct),
        )
        .route("/clienten/{id}/crisisplan", get(work::crisis::page))
        .route(
            "/clienten/{id}/crisisplan/bewerken",
            get(work::crisis::edit).post(work::crisis::save),
        )
        .route(
            "/clienten/{id}/crisisplan/crisisplan.pdf",
            get(work::crisis::pdf),
        )
        .route(
            "/clienten/{id}/medicatie",
            get(work::medication::client_page),
        )
        .route("/medicatie", get(work::medication::round))
        .route("/medicatie/aftekenen", post(work::medication::sign_off))
        .route("/medicatie/controles", get(work::medication::checks))
        .route("/clienten/{id}/kring", get(circle::page).post(circle::add))
        .route(
            "/clienten/{id}/delen",
            get(sharing::page).post(sharing::step),
        )
        .route("/clienten/{id}/delen/vastleggen", post(sharing::record))
        .route(
            "/clienten/{id}/berichten",
            get(messages::page).post(messages::send),
        )
        .route(
            "/clienten/{id}/meldcode",
            get(meldcode::page).post(meldcode::record),
        )
        .route("/delen/intrekken", post(sharing::withdraw))
        .route("/delen/oefenen", get(sharing::training))
        .route(
            "/delen/oefenen/{id}",
            get(sharing::training_case).post(sharing::training_answer),
        )
        .route("/privacy/delen", get(sharing::officer))
        .route(
            "/privacy/vragen",
            get(sharing::questions).post(sharing::save_questions),
        )
        .route("/clienten/{id}/kring/beeindigen", post(circle::end))
        .route(
            "/noodtoegang",
            get(emergency::form).post(emergency::declare),
        )
        .route("/mijn", get(portal::home::page))
        .route("/mijn/kind", post(portal::home::choose_child))
        .route("/mijn/kring", get(portal::circle::page))
        .route("/mijn/gegevens", get(portal::data::page))
        .route("/mijn/gegevens/verzoek", post(portal::data::request))
        .route(
            "/mijn/gegevens/verzoek/intrekken",
            post(portal::data::withdraw),
        )
        .route("/mijn/plan/doel", post(work::plan::own_goal))
        .route("/mijn/plan/reactie", post(work::plan::comment))
        .route("/mijn/plan/akkoord", post(work::plan::agree))
        .route(
            "/clienten/{id}/plan/verzoeken",
            post(work::plan::answer_request),
        )
        .route("/mijn/gegevens/dossier.json", get(portal::data::bundle))
        .route("/mijn/gegevens/dossier.ndjson", get(portal::data::ndjson))
        .route("/mijn/gegevens/dossier.pdf", get(portal::data::pdf))
        .route("/toestemming", get(consent::page).post(consent::record))
        .route("/wie-keek", get(access_log::who_looked))
        .route(
            "/toegangslog",
            get(access_log::officer_page).post(access_log::officer_search),
        )
        .route("/toezicht", get(oversight::queue))
        .route("/toezicht/controleren", post(oversight::run_now))
        .route("/toezicht/steekproef", get(oversight::sample))
        .route("/toezicht/zaken/{id}", get(oversight::case))
        .route("/toezicht/zaken/{id}/besluit", post(oversight::decide))
        .route("/toezicht/zaken/{id}/waarschuwing", post(oversight::warn))
        .route("/toezicht/zaken/{id}/datalek", post(oversight::from_case))
        .route(
            "/privacy/datalekken",
            get(oversight::register).post(oversight::open),
        )
        .route("/privacy/datalekken/{id}", get(oversight::incident))
        .route(
            "/privacy/datalekken/{id}/beoordeling",
            post(oversight::assess),
        )
        .route("/privacy/datalekken/{id}/verzonden", post(oversight::sent))
        .route("/toezicht/rapport", get(oversight::report))
        .route("/toezicht/rapport.pdf", get(oversight::report_pdf))
        .route("/meldingen/{id}/gelezen", post(oversight::warning_read))
        .route("/toestemming/mee", post(consent::cosign))
        .route("/toestemming/intrekken", post(consent::withdraw))
        .route("/toestemming/weigeren", post(consent::refuse))
}
