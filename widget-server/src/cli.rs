//! Admin commands (`website create|list|update`, `operator create`) and the demo
//! data created on an empty database. Commands print JSON on stdout.

use serde_json::json;

use crate::domain::{random_token, Email};
use crate::operator::hash_password;
use crate::store::{Operator, Store, Website, WebsiteSettings};
use crate::time::now_ms;

fn parse_origins(origins: Vec<String>) -> anyhow::Result<Vec<String>> {
    origins
        .into_iter()
        .map(|origin| {
            let ok = origin == "*" || origin.starts_with("http://") || origin.starts_with("https://");
            anyhow::ensure!(ok, "origin `{origin}` must start with http:// or https:// (or be *)");
            Ok(origin.trim_end_matches('/').to_owned())
        })
        .collect()
}

/// Creates a website with fresh token and secret.
pub async fn create_website(
    store: &dyn Store,
    name: &str,
    origins: Vec<String>,
    legacy_mode: bool,
) -> anyhow::Result<Website> {
    let origins = parse_origins(origins)?;
    let website = Website {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_owned(),
        token: random_token(),
        api_secret: random_token(),
        origins,
        settings: WebsiteSettings { title: Some(name.to_owned()), ..WebsiteSettings::default() },
        legacy_mode,
        created_ms: now_ms(),
    };
    store.create_website(&website).await?;
    Ok(website)
}

/// Merges `settings` (JSON) into a website's settings; replaces its origins
/// when some are given; sets legacy mode when asked.
pub async fn update_website(
    store: &dyn Store,
    token: &str,
    settings: Option<&str>,
    origins: Vec<String>,
    legacy_mode: Option<bool>,
) -> anyhow::Result<Website> {
    let mut website =
        store.website_by_token(token).await?.ok_or_else(|| anyhow::anyhow!("no website has that token"))?;
    if let Some(patch) = settings {
        let patch: serde_json::Value =
            serde_json::from_str(patch).map_err(|e| anyhow::anyhow!("--settings is not JSON: {e}"))?;
        let serde_json::Value::Object(patch) = patch else { anyhow::bail!("--settings must be a JSON object") };
        let mut merged = serde_json::to_value(&website.settings)?;
        if let serde_json::Value::Object(fields) = &mut merged {
            fields.extend(patch);
        }
        website.settings = serde_json::from_value(merged).map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
    }
    if !origins.is_empty() {
        website.origins = parse_origins(origins)?;
    }
    if let Some(legacy) = legacy_mode {
        website.legacy_mode = legacy;
    }
    store.update_website(&website).await?;
    Ok(website)
}

/// Creates an operator; fails if the email is taken.
pub async fn create_operator(
    store: &dyn Store,
    email: &str,
    password: &str,
    role: &str,
    name: Option<&str>,
) -> anyhow::Result<Operator> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(password.chars().count() >= 8, "password must be at least 8 characters");
    anyhow::ensure!(matches!(role, "admin" | "agent"), "role must be admin or agent");
    let name = name.map_or_else(|| email.as_str().split('@').next().unwrap_or("operator").to_owned(), str::to_owned);
    let operator = Operator {
        id: uuid::Uuid::new_v4().to_string(),
        email: email.as_str().to_owned(),
        name,
        password_hash: hash_password(password)?,
        role: role.to_owned(),
        created_ms: now_ms(),
        token_version: 0,
    };
    anyhow::ensure!(store.create_operator(&operator).await?, "an operator with email {} exists", operator.email);
    Ok(operator)
}

/// JSON description of a website for `website list` (the secret included: it is the owner's console).
pub fn website_json(w: &Website) -> serde_json::Value {
    json!({
        "id": w.id,
        "name": w.name,
        "websiteToken": w.token,
        "apiSecret": w.api_secret,
        "origins": w.origins,
        "legacyMode": w.legacy_mode,
        "settings": w.settings,
    })
}

/// On an empty database, creates the demo website (any origin) and an admin
/// operator, and returns what to print. `None` when data exists.
pub async fn bootstrap_demo(store: &dyn Store) -> anyhow::Result<Option<String>> {
    if !store.list_websites().await?.is_empty() || store.count_operators().await? > 0 {
        return Ok(None);
    }
    let website = create_website(store, "Natter demo", vec![], false).await?;
    store.kv_set_once("demo_website_token", &website.token).await?;
    let password = random_token();
    let admin = create_operator(store, "admin@natter.local", &password, "admin", Some("Admin")).await?;
    Ok(Some(format!(
        "\n  Natter is set up with demo data:\n\n    demo website token  {}\n    admin login         {}\n    admin password      {}\n\n  \
         The password is shown only this once.\n",
        website.token, admin.email, password
    )))
}
