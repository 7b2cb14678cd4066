//! The OpenAPI description, generated from the handlers' own annotations as
//! the routers are built (so a route and its description cannot part), and
//! the viewer at `/api/docs`, shipped inside the server.

use natter_protocol::ErrorBody;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::{Modify, ToSchema};

/// The public and Novatalks APIs' error: `{success: false, error: {code, message}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicError {
    /// Always `false`.
    pub success: bool,
    pub error: ErrorBody,
}

/// The document around the paths: title, version, tags and how callers prove who they are.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Natter",
        description = "The chat server: the public widget API and its Novatalks and OmniSupport dialects, \
            the operator API and the room API. Realtime sockets (`/ws`, `/api/v1/ws`, `/api/rooms/{id}/chat`) \
            are described in the project's documentation."
    ),
    tags(
        (name = "public", description = "The widget's API (`X-API-Key`, `X-Session-Token`)"),
        (name = "novatalks", description = "The Novatalks widget dialect"),
        (name = "omnisupport-widget", description = "The OmniSupport widget dialect (`/widget/v1`)"),
        (name = "auth", description = "Operator sign-in"),
        (name = "account", description = "The account's settings: retention"),
        (name = "conversations", description = "The operator inbox"),
        (name = "customers", description = "Customers"),
        (name = "team", description = "The team"),
        (name = "webhooks", description = "Webhooks"),
        (name = "api-keys", description = "API keys for scripts and SDKs (`Authorization: Bearer sk_live_…`)"),
        (name = "channels", description = "Channels: widgets, Telegram bots, WhatsApp numbers, and the platforms' webhooks (`/hooks/…`)"),
        (name = "billing", description = "Plans and usage"),
        (name = "knowledge", description = "The knowledge base: documents and full-text search"),
        (name = "ai", description = "AI replies from the knowledge base"),
        (name = "analytics", description = "Analytics"),
        (name = "rooms", description = "The room API"),
        (name = "operations", description = "Health, readiness, metrics"),
    ),
    components(schemas(PublicError, natter_protocol::operator::OperatorError)),
    modifiers(&Security)
)]
struct Frame;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let header = |name: &str, about: &str| {
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(name, about)))
        };
        components.add_security_scheme("api_key", header("X-API-Key", "The website's public token"));
        components.add_security_scheme(
            "session_token",
            header("X-Session-Token", "The session's token, from the session answer (or `Auth-Widget`)"),
        );
        components.add_security_scheme("api_secret", header("X-API-Secret", "The website's secret, for servers"));
        components
            .add_security_scheme("widget_token", header("Auth-Widget", "The Novatalks conversation's pubsubToken"));
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The whole description: the frame and the paths the routers collected,
/// every operator-API operation with the 429 of its plan's request rate.
pub fn document(paths: OpenApi) -> OpenApi {
    let mut doc = <Frame as utoipa::OpenApi>::openapi();
    doc.merge(paths);
    for (path, item) in &mut doc.paths.paths {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        for operation in operations.into_iter().flatten() {
            let rated = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            if rated && !operation.responses.responses.contains_key("429") {
                let response = utoipa::openapi::ResponseBuilder::new()
                    .description("Over the plan's request rate (or a sign-in limit); `Retry-After` says when to retry")
                    .header(
                        "Retry-After",
                        utoipa::openapi::HeaderBuilder::new().description(Some("Seconds to wait")).build(),
                    )
                    .content(
                        "application/json",
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name("OperatorError")))
                            .build(),
                    )
                    .build();
                operation.responses.responses.insert("429".into(), response.into());
            }
        }
    }
    doc
}

/// `/api/openapi.json` and the viewer at `/api/docs`, whose files are built
/// into the server.
pub fn viewer<S: Clone + Send + Sync + 'static>(doc: OpenApi) -> axum::Router<S> {
    utoipa_swagger_ui::SwaggerUi::new("/api/docs").url("/api/openapi.json", doc).into()
}
