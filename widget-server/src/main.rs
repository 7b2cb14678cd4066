//! `natter-server`: parses the command line, then serves or runs an admin command.

use clap::Parser;
use natter_server::config::{AccountCommand, Cli, Command, OperatorCommand, WebsiteCommand};
use natter_server::store::Store;
use natter_server::{cli, AppState};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Cli::parse();
    init_tracing(args.serve.log_json);
    let state = AppState::new(&args.serve).await?;
    let store: &dyn Store = state.store.as_ref();
    match args.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            if !args.serve.no_demo {
                if let Some(banner) = cli::bootstrap_demo(store, &state.settings.ai).await? {
                    println!("{banner}");
                }
            }
            if let Some(addr) = args.serve.metrics_addr {
                let metrics = TcpListener::bind(addr).await?;
                tracing::info!(addr = %metrics.local_addr()?, "serving /metrics");
                tokio::spawn(natter_server::serve_metrics(metrics, state.clone()));
            }
            let listener = TcpListener::bind(args.serve.addr).await?;
            tracing::info!(addr = %listener.local_addr()?, database = store.kind(), "listening");
            println!("  Natter is running on http://{}/", listener.local_addr()?);
            natter_server::serve(listener, state, shutdown_signal()).await?;
        }
        Command::Account(AccountCommand::Create { name }) => {
            println!("{}", cli::account_json(&cli::create_account(store, &name).await?));
        }
        Command::Account(AccountCommand::List) => {
            let list: Vec<_> = store.list_accounts().await?.iter().map(cli::account_json).collect();
            println!("{}", serde_json::Value::Array(list));
        }
        Command::Website(WebsiteCommand::Create { account, name, origins, legacy_mode }) => {
            let w = cli::create_website(store, account.as_deref(), &name, origins, legacy_mode).await?;
            let created = serde_json::json!({
                "websiteToken": w.token, "apiSecret": w.api_secret, "id": w.id, "accountId": w.account_id,
            });
            println!("{created}");
        }
        Command::Website(WebsiteCommand::Update { token, settings, origins, legacy_mode }) => {
            let w = cli::update_website(store, &token, settings.as_deref(), origins, legacy_mode).await?;
            println!("{}", cli::website_json(&w));
        }
        Command::Website(WebsiteCommand::List { account }) => {
            let list: Vec<_> = store.list_websites(account.as_deref()).await?.iter().map(cli::website_json).collect();
            println!("{}", serde_json::Value::Array(list));
        }
        Command::Operator(OperatorCommand::Create { account, email, password_stdin, password, role, name }) => {
            let password = cli::operator_password(password_stdin, password)?;
            let op = cli::create_operator(store, account.as_deref(), &email, &password, &role, name.as_deref()).await?;
            println!(
                "{}",
                serde_json::json!({ "id": op.id, "email": op.email, "role": op.role, "accountId": op.account_id })
            );
        }
    }
    Ok(())
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
