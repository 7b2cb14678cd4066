//! The admin commands, run as the real binary against a SQLite file.

use std::process::Command;

use serde_json::Value;

fn natter(db: &str, args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_natter-server"))
        .args(args)
        .args(["--database-url", db])
        .env("RUST_LOG", "warn")
        .output()
        .expect("binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (out.status.success(), json, String::from_utf8_lossy(&out.stderr).to_string())
}

#[test]
fn website_and_operator_commands_print_json_and_refuse_bad_input() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());

    let (ok, created, err) = natter(&db, &["website", "create", "--name", "Shop", "--origin", "https://shop.example/"]);
    assert!(ok, "{err}");
    let token = created["websiteToken"].as_str().expect("websiteToken").to_owned();
    assert!(created["apiSecret"].as_str().is_some_and(|s| s.len() >= 22));

    let (ok, list, _) = natter(&db, &["website", "list"]);
    assert!(ok);
    assert_eq!(list[0]["websiteToken"], token.as_str());
    assert_eq!(list[0]["origins"][0], "https://shop.example");

    let (ok, updated, err) = natter(
        &db,
        &["website", "update", "--token", &token, "--settings", r##"{"greeting": "Привіт!", "color": "#ff0000"}"##],
    );
    assert!(ok, "{err}");
    assert_eq!(updated["settings"]["greeting"], "Привіт!");
    assert_eq!(updated["settings"]["locale"], "en", "fields not given are kept");
    let (ok, _, err) = natter(&db, &["website", "update", "--token", &token, "--settings", r#"{"businessHours": 5}"#]);
    assert!(!ok && err.contains("invalid settings"), "{err}");

    let (ok, _, err) = natter(&db, &["website", "create", "--name", "Bad", "--origin", "shop.example"]);
    assert!(!ok && err.contains("must start with http"), "{err}");

    let args = ["operator", "create", "--email", "ann@example.com", "--password", "long enough pw", "--role", "admin"];
    let (ok, op, err) = natter(&db, &args);
    assert!(ok, "{err}");
    assert_eq!((op["email"].as_str(), op["role"].as_str()), (Some("ann@example.com"), Some("admin")));
    assert!(
        !err.contains("long enough pw") && !op.to_string().contains("long enough pw"),
        "the password is never printed"
    );
    let (ok, _, err) = natter(&db, &args);
    assert!(!ok && err.contains("exists"), "{err}");
    let (ok, _, _) = natter(&db, &["operator", "create", "--email", "x@example.com", "--password", "short"]);
    assert!(!ok);
}

#[test]
fn accounts_own_websites_and_operators_and_must_be_named_once_there_are_two() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("accounts.db").display());

    let (ok, first, err) = natter(&db, &["website", "create", "--name", "First"]);
    assert!(ok, "{err}");
    let default_account = first["accountId"].as_str().expect("accountId").to_owned();
    let (ok, created, err) = natter(&db, &["account", "create", "--name", "Acme"]);
    assert!(ok, "{err}");
    let acme = created["accountId"].as_str().expect("accountId").to_owned();
    assert_ne!(acme, default_account);
    let (ok, list, _) = natter(&db, &["account", "list"]);
    assert!(ok);
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");

    let (ok, _, err) = natter(&db, &["website", "create", "--name", "Which?"]);
    assert!(!ok && err.contains("--account"), "two accounts: one must be named: {err}");
    let (ok, site, err) = natter(&db, &["website", "create", "--account", &acme, "--name", "Acme shop"]);
    assert!(ok, "{err}");
    assert_eq!(site["accountId"], acme.as_str());
    let args = ["operator", "create", "--account", &acme, "--email", "a@acme.example", "--password", "long enough pw"];
    let (ok, op, err) = natter(&db, &args);
    assert!(ok, "{err}");
    assert_eq!(op["accountId"], acme.as_str());
    let (ok, _, err) = natter(&db, &["website", "create", "--account", "no-such-account", "--name", "X"]);
    assert!(!ok && err.contains("no account"), "{err}");

    let (ok, only_acme, _) = natter(&db, &["website", "list", "--account", &acme]);
    assert!(ok);
    let names: Vec<&str> = only_acme.as_array().expect("list").iter().filter_map(|w| w["name"].as_str()).collect();
    assert_eq!(names, ["Acme shop"]);
}
