//! The admin dashboard at `/admin`: server-rendered pages for the people who
//! answer "my license stopped working" and the vendors who change policies.
//!
//! - Templates are compiled into the binary (askama), the stylesheet is embedded, nothing is
//!   loaded from another origin, and every page works as plain forms and links
//!   ([`page::CSP`]).
//! - Signing in exchanges an admin API key for a session cookie ([`session`]); every form
//!   carries the session's CSRF token; destructive actions ask once more.
//! - Pages read and act through the application layer's operations (`crate::app`), the ones
//!   the native API's routes call, with the signed-in key as the caller ([`desk`]): a
//!   product-limited key sees and changes only its product, and every action is the API's
//!   own, audited with that key as the actor.

pub mod desk;
pub mod page;
pub mod session;
pub mod templates;
pub mod time;

mod audit;
mod keys;
mod licenses;
mod offline;
mod overview;
mod products;
mod sign_in;
mod webhooks;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::app::state::AppState;

use self::desk::Refusal;
use self::templates::Notice;

/// The stylesheet, embedded.
const CSS: &str = include_str!("../../assets/admin.css");

/// The dashboard's routes, under `/admin`; `api_router` is the API the pages call.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(overview::overview))
        .route("/admin/", get(overview::overview))
        .route("/admin/assets/admin.css", get(css))
        .route("/admin/sign-in", get(sign_in::form).post(sign_in::sign_in))
        .route("/admin/sign-out", post(sign_in::sign_out))
        .route(
            "/admin/licenses",
            get(licenses::list).post(licenses::create),
        )
        .route("/admin/licenses/{id}", get(licenses::show))
        .route("/admin/licenses/{id}/{action}", post(licenses::act))
        .route(
            "/admin/machines/{id}/deactivate",
            post(licenses::deactivate_machine),
        )
        .route(
            "/admin/machines/{id}/license-file",
            get(licenses::license_file),
        )
        .route(
            "/admin/products",
            get(products::list).post(products::create_product),
        )
        .route(
            "/admin/products/{id}",
            get(products::edit_product).post(products::update_product),
        )
        .route("/admin/policies", post(products::create_policy))
        .route(
            "/admin/policies/{id}",
            get(products::edit_policy).post(products::update_policy),
        )
        .route("/admin/revocations", get(products::revocations))
        .route("/admin/keys/rotate", post(products::rotate_keys))
        .route("/admin/audit", get(audit::list))
        .route("/admin/offline", get(offline::page))
        .route("/admin/offline/activate", post(offline::activate))
        .route("/admin/offline/deactivate", post(offline::deactivate))
        .route("/admin/api-keys", get(keys::list).post(keys::create))
        .route(
            "/admin/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route("/admin/webhooks/{id}/{action}", post(webhooks::act))
        .route(
            "/admin/webhooks/{id}/deliveries/{delivery}/resend",
            post(webhooks::resend),
        )
        .route("/admin/api-keys/{id}/{action}", post(keys::act))
        .fallback(|| async { page::failure(&crate::app::error::ApiError::not_found("page")) })
}

async fn css() -> Response {
    let mut r = ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    page::secure_headers(r.headers_mut());
    r
}

/// A refusal of the API as a notice on the page that asked.
fn refused(r: &Refusal) -> Notice {
    Notice {
        kind: "error",
        text: format!("Refused ({}): {}", r.code, r.message),
    }
}

/// A page for a refusal that leaves nothing to show (the object is not there, or not the
/// viewer's to see).
fn refusal_page(r: &Refusal) -> Response {
    let t = templates::Failure {
        status: r.status.as_u16(),
        code: r.code.clone(),
        message: r.message.clone(),
    };
    page::render(r.status, &t)
}

/// A destructive action, asked once more: the question, what follows, the button, where the
/// confirmed form posts (with `confirm=yes` and `fields`) and where "Cancel" goes.
pub(crate) struct Ask<'a> {
    question: &'a str,
    consequence: &'a str,
    verb: &'a str,
    action: String,
    back: String,
    fields: Vec<(String, String)>,
}

fn confirm(v: &session::Viewer, section: &'static str, a: Ask<'_>) -> Response {
    let t = templates::Confirm {
        chrome: v.chrome(section),
        notice: None,
        question: a.question.to_owned(),
        consequence: a.consequence.to_owned(),
        verb: a.verb.to_owned(),
        action: a.action,
        back: a.back,
        fields: a.fields,
    };
    page::render(StatusCode::OK, &t)
}

/// The notice a redirect carries in its query (`?done=…` or `?refused=…`), with its tag
/// (`n`): a notice is shown only when the tag is this session's for that text
/// ([`session::flash_tag`]).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Flash {
    done: Option<String>,
    refused: Option<String>,
    n: Option<String>,
}

impl Flash {
    fn notice(&self, d: &desk::Desk) -> Option<Notice> {
        let tag = self.n.as_deref()?;
        let sid = &d.v.session.sid;
        if let Some(r) = &self.refused {
            let ok = session::flash_tag_ok(&d.s, sid, &format!("refused:{r}"), tag);
            return ok.then(|| Notice {
                kind: "error",
                text: format!("Refused: {r}"),
            });
        }
        let done = self.done.as_ref()?;
        session::flash_tag_ok(&d.s, sid, &format!("done:{done}"), tag).then(|| Notice {
            kind: "ok",
            text: done.clone(),
        })
    }

    /// The query of a redirect after `r`.
    fn of(d: &desk::Desk, r: &Result<String, Refusal>) -> String {
        match r {
            Ok(done) => Self::query(d, "done", done),
            Err(e) => Self::refusal(d, &format!("{} ({})", e.message, e.code)),
        }
    }

    /// The query of a redirect that says why the form was refused.
    fn refusal(d: &desk::Desk, text: &str) -> String {
        Self::query(d, "refused", text)
    }

    fn query(d: &desk::Desk, kind: &str, text: &str) -> String {
        let tag = session::flash_tag(&d.s, &d.v.session.sid, &format!("{kind}:{text}"));
        format!("{kind}={}&n={}", page::q(text), page::q(&tag))
    }
}
