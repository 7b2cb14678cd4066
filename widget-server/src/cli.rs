//! Admin commands (`account create|list`, `website create|list|update`,
//! `operator create`) and the demo data created on an empty database.
//! Commands print JSON on stdout.

use serde_json::json;

use crate::domain::{random_token, Email, PersonName};
use crate::store::{Account, ChannelKind, Operator, Store, Website, WebsiteSettings};
use crate::time::now_ms;

pub(crate) fn parse_origins(origins: Vec<String>) -> anyhow::Result<Vec<String>> {
    origins
        .into_iter()
        .map(|origin| {
            let ok = origin == "*" || origin.starts_with("http://") || origin.starts_with("https://");
            anyhow::ensure!(ok, "origin `{origin}` must start with http:// or https:// (or be *)");
            Ok(origin.trim_end_matches('/').to_owned())
        })
        .collect()
}

/// Creates an account (a company).
pub async fn create_account(store: &dyn Store, name: &str) -> anyhow::Result<Account> {
    let name = name.trim();
    anyhow::ensure!(!name.is_empty() && name.chars().count() <= 200, "the account name must be 1 to 200 characters");
    let account = Account { id: uuid::Uuid::new_v4().to_string(), name: name.to_owned(), created_ms: now_ms() };
    store.create_account(&account).await?;
    Ok(account)
}

/// The account a command acts in: the one named, or, when none is named, the
/// only one there is (a first one is created on an empty database).
pub async fn resolve_account(store: &dyn Store, id: Option<&str>) -> anyhow::Result<Account> {
    let accounts = store.list_accounts().await?;
    match id {
        Some(id) => accounts.into_iter().find(|a| a.id == id).ok_or_else(|| anyhow::anyhow!("no account {id}")),
        None => match accounts.len() {
            0 => create_account(store, "Default").await,
            1 => Ok(accounts.into_iter().next().unwrap_or_else(|| unreachable!("one account"))),
            n => anyhow::bail!("there are {n} accounts: name one with --account"),
        },
    }
}

/// Creates a website with fresh token and secret in an account (see [`resolve_account`]).
pub async fn create_website(
    store: &dyn Store,
    account: Option<&str>,
    name: &str,
    origins: Vec<String>,
    legacy_mode: bool,
) -> anyhow::Result<Website> {
    let origins = parse_origins(origins)?;
    let account = resolve_account(store, account).await?;
    let website = Website {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account.id,
        name: name.to_owned(),
        token: format!("pk_live_{}", random_token()),
        api_secret: random_token(),
        origins,
        settings: WebsiteSettings { title: Some(name.to_owned()), ..WebsiteSettings::default() },
        legacy_mode,
        created_ms: now_ms(),
        kind: ChannelKind::Widget,
        config: serde_json::json!({}),
        secrets: serde_json::json!({}),
    };
    store.create_website(&website).await?;
    Ok(website)
}

/// The longest text of one website setting (a greeting, an away message).
const MAX_SETTING_CHARS: usize = 2000;
/// The most JSON a website's settings take.
const MAX_SETTINGS_BYTES: usize = 16 * 1024;

/// `current` with the fields of `patch` (camelCase, as stored) replaced,
/// checked: known fields only, each text at most 2,000 characters, 16 KB in
/// all, a `#rgb`/`#rrggbb` colour, a known position and contact form.
pub fn merge_settings(
    current: &WebsiteSettings,
    patch: serde_json::Map<String, serde_json::Value>,
) -> Result<WebsiteSettings, String> {
    let mut merged = serde_json::to_value(current).map_err(|e| e.to_string())?;
    let serde_json::Value::Object(fields) = &mut merged else { return Err("settings are not an object".into()) };
    if let Some(unknown) = patch.keys().find(|k| !fields.contains_key(*k)) {
        return Err(format!("{unknown} is not a widget setting"));
    }
    fields.extend(patch);
    let longest = fields.values().filter_map(serde_json::Value::as_str).map(|t| t.chars().count()).max();
    if longest.unwrap_or(0) > MAX_SETTING_CHARS {
        return Err(format!("a setting's text may be at most {MAX_SETTING_CHARS} characters"));
    }
    if merged.to_string().len() > MAX_SETTINGS_BYTES {
        return Err(format!("settings may be at most {MAX_SETTINGS_BYTES} bytes of JSON"));
    }
    let settings: WebsiteSettings = serde_json::from_value(merged).map_err(|e| format!("invalid settings: {e}"))?;
    let hex = settings.color.strip_prefix('#').unwrap_or("");
    if !matches!(hex.len(), 3 | 6) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("color must be #rgb or #rrggbb".into());
    }
    if !matches!(settings.position.as_str(), "left" | "right") {
        return Err("position must be left or right".into());
    }
    if !matches!(settings.contact_form.as_str(), "off" | "after-first-message" | "before-chat") {
        return Err("contactForm must be off, after-first-message or before-chat".into());
    }
    Ok(settings)
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
        website.settings = merge_settings(&website.settings, patch).map_err(|e| anyhow::anyhow!("{e}"))?;
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

/// The new operator's password: from standard input with `--password-stdin`,
/// else from `--password` (with a warning: argv is visible to every user of
/// the machine), else from `NATTER_OPERATOR_PASSWORD`.
pub fn operator_password(stdin: bool, argument: Option<String>) -> anyhow::Result<String> {
    if stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    if let Some(password) = argument {
        eprintln!("warning: --password is visible to other users of this machine; prefer --password-stdin");
        return Ok(password);
    }
    std::env::var("NATTER_OPERATOR_PASSWORD")
        .map_err(|_| anyhow::anyhow!("give the password with --password-stdin or NATTER_OPERATOR_PASSWORD"))
}

/// Creates an operator in an account (see [`resolve_account`]); fails if the email is taken.
pub async fn create_operator(
    store: &dyn Store,
    account: Option<&str>,
    email: &str,
    password: &str,
    role: &str,
    name: Option<&str>,
) -> anyhow::Result<Operator> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(password.chars().count() >= 8, "password must be at least 8 characters");
    anyhow::ensure!(matches!(role, "admin" | "agent"), "role must be admin or agent");
    let name = name.unwrap_or_else(|| email.as_str().split('@').next().unwrap_or("operator"));
    let name = PersonName::parse(name).map_err(|e| anyhow::anyhow!("{e}"))?.as_str().to_owned();
    let account = resolve_account(store, account).await?;
    anyhow::ensure!(
        store.operator_by_email(email.as_str()).await?.is_none(),
        "an operator with email {} exists",
        email.as_str()
    );
    let operator = Operator {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account.id,
        email: email.as_str().to_lowercase(),
        name,
        password_hash: crate::password::hash_off_workers(password.to_owned()).await?,
        role: role.to_owned(),
        created_ms: now_ms(),
        token_version: 0,
        departments: vec![],
        availability: "online".into(),
    };
    anyhow::ensure!(store.create_operator(&operator).await?, "an operator with email {} exists", operator.email);
    Ok(operator)
}

/// JSON description of a website for `website list` (the secret included: it is the owner's console).
pub fn website_json(w: &Website) -> serde_json::Value {
    json!({
        "id": w.id,
        "accountId": w.account_id,
        "name": w.name,
        "websiteToken": w.token,
        "apiSecret": w.api_secret,
        "identitySecret": crate::identity::secret(w),
        "origins": w.origins,
        "legacyMode": w.legacy_mode,
        "settings": w.settings,
    })
}

/// On an empty database, creates the demo website (any origin) and an admin
/// operator, and returns what to print. `None` when data exists.
pub async fn bootstrap_demo(store: &dyn Store, ai: &crate::ai::ServerDefaults) -> anyhow::Result<Option<String>> {
    if !store.list_accounts().await?.is_empty()
        || !store.list_websites(None).await?.is_empty()
        || store.count_operators().await? > 0
    {
        return Ok(None);
    }
    let account = create_account(store, "Natter demo").await?;
    let website = create_website(store, Some(&account.id), "Natter demo", vec![], false).await?;
    store.kv_set_once("demo_website_token", &website.token).await?;
    let password = random_token();
    let admin =
        create_operator(store, Some(&account.id), "admin@natter.local", &password, "admin", Some("Admin")).await?;
    demo_knowledge(store, &account.id, ai).await?;
    Ok(Some(format!(
        "\n  Natter is set up with demo data:\n\n    demo website token  {}\n    admin login         {}\n    admin password      {}\n\n  \
         The password is shown only this once.\n",
        website.token, admin.email, password
    )))
}

/// The demo shop's FAQ, which the demo's auto-respond answers from.
const DEMO_FAQ: &str =
    "# Shipping\n\nWe ship every weekday. Orders placed before noon leave the roastery the same day; \
delivery takes two to four working days in the EU, and shipping is free from €40.\n\n\
# Returns\n\nUnopened bags can be returned within 30 days for a full refund. Write to us with your order number \
and we send a prepaid return label.\n\n\
# Freshness\n\nEvery coffee is roasted to order in small batches, and each bag shows its roast date. \
Coffee tastes best from one to six weeks after roasting.\n\n\
# Payment\n\nWe take cards, Apple Pay, Google Pay and bank transfer. Prices include VAT.\n";

/// Loads the demo FAQ into the demo account's knowledge base and turns
/// auto-respond on, with the server's default provider (builtin unless set).
async fn demo_knowledge(store: &dyn Store, account_id: &str, ai: &crate::ai::ServerDefaults) -> anyhow::Result<()> {
    use crate::knowledge::{extract, passages, Format};
    let text = extract(DEMO_FAQ.as_bytes(), Format::Markdown).map_err(|e| anyhow::anyhow!("demo FAQ: {e}"))?;
    let passages = passages(&text);
    let document = crate::store::KnowledgeDocument {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account_id.to_owned(),
        title: "Shop FAQ".into(),
        category: Some("general".into()),
        file_name: "faq.md".into(),
        format: Format::Markdown.as_str().into(),
        size_bytes: i64::try_from(DEMO_FAQ.len()).unwrap_or(0),
        passages: i64::try_from(passages.len()).unwrap_or(0),
        created_ms: now_ms(),
    };
    store.add_document(&document, &passages).await?;
    let defaults = crate::ai::Settings::resolve(None, ai);
    store
        .save_ai_settings(&crate::store::AiSettingsRecord {
            account_id: account_id.to_owned(),
            provider: defaults.provider,
            model: defaults.model,
            temperature: defaults.temperature,
            system_prompt: defaults.system_prompt,
            auto_respond: true,
            confidence_threshold: defaults.confidence_threshold,
            base_url: None,
            api_key: None,
            updated_ms: now_ms(),
        })
        .await?;
    Ok(())
}

/// JSON description of an account for `account create|list`.
pub fn account_json(a: &Account) -> serde_json::Value {
    json!({ "accountId": a.id, "name": a.name, "createdAt": crate::time::iso(a.created_ms) })
}
