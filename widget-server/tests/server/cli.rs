//! The admin commands, run as the real binary against a SQLite file.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

fn natter(db: &str, args: &[&str]) -> (bool, Value, String) {
    natter_with(db, args, &[], "")
}

/// Runs the binary with extra environment and standard input.
fn natter_with(db: &str, args: &[&str], env: &[(&str, &str)], stdin: &str) -> (bool, Value, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_natter-server"))
        .args(args)
        .args(["--database-url", db])
        .env("RUST_LOG", "warn")
        .env_remove("NATTER_OPERATOR_PASSWORD")
        .env_remove("NATTER_JWT_SECRET")
        .env_remove("NATTER_SECRET_KEY")
        .env(
            "NATTER_DATA_DIR",
            Path::new(db.trim_start_matches("sqlite://")).parent().expect("the database's directory"),
        )
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("binary ends");
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
    let long = serde_json::json!({ "greeting": "x".repeat(2001) }).to_string();
    let (ok, _, err) = natter(&db, &["website", "update", "--token", &token, "--settings", &long]);
    assert!(!ok && err.contains("at most 2000 characters"), "{err}");

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

#[test]
fn operator_passwords_come_from_stdin_or_the_environment_and_argv_is_warned_about() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let create = |email: &'static str, extra: &'static [&'static str]| {
        let mut args = vec!["operator", "create", "--email", email];
        args.extend_from_slice(extra);
        args
    };

    let (ok, op, err) = natter_with(&db, &create("in@example.com", &["--password-stdin"]), &[], "from stdin pw\n");
    assert!(ok, "{err}");
    assert_eq!(op["email"], "in@example.com");
    assert!(!err.contains("warning"), "{err}");

    let env = [("NATTER_OPERATOR_PASSWORD", "from the env pw")];
    let (ok, _, err) = natter_with(&db, &create("env@example.com", &[]), &env, "");
    assert!(ok && !err.contains("warning"), "{err}");

    let (ok, _, err) = natter(&db, &create("argv@example.com", &["--password", "on the command line"]));
    assert!(ok, "{err}");
    assert!(err.contains("warning: --password is visible"), "{err}");

    let (ok, _, err) = natter(&db, &create("none@example.com", &[]));
    assert!(!ok && err.contains("--password-stdin"), "{err}");

    let (ok, _, err) = natter_with(&db, &["account", "list"], &[("NATTER_JWT_SECRET", "too short")], "");
    assert!(!ok && err.contains("at least 32 bytes"), "a short signing secret is refused: {err}");
}
