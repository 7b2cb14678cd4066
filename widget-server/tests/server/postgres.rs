//! A throwaway PostgreSQL cluster for the test run: `initdb` into a temp dir,
//! `pg_ctl start` on a free port, one fresh database per test. A watcher
//! process stops the cluster and deletes it when the test binary exits.
//! Set `NATTER_TEST_POSTGRES_URL` to use an existing server instead.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sqlx::{Connection, Executor, PgConnection};

struct Cluster {
    /// URL of the maintenance database, used to create per-test databases.
    admin_url: String,
}

fn find_bin(name: &str) -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.exists())
        .collect();
    candidates.sort();
    candidates.pop().unwrap_or_else(|| PathBuf::from(name))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root (initdb refuses root).
fn pg_command(bin: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn start_cluster() -> Cluster {
    if let Ok(url) = std::env::var("NATTER_TEST_POSTGRES_URL") {
        return Cluster { admin_url: url };
    }
    let initdb = find_bin("initdb");
    let pg_ctl = find_bin("pg_ctl");
    let as_postgres = is_root();
    let dir = std::env::temp_dir().join(format!("natter-pg-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&dir).expect("temp dir");
    if as_postgres {
        let ok = Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir).status().is_ok_and(|s| s.success());
        assert!(ok, "could not hand {} to the postgres user", dir.display());
    }
    let status = pg_command(&initdb, as_postgres)
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "-D"])
        .arg(&data)
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run {} ({e}); install PostgreSQL or set NATTER_TEST_POSTGRES_URL", initdb.display())
        });
    assert!(status.success(), "initdb failed");
    let port = free_port();
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400",
        dir.display()
    );
    let status = pg_command(&pg_ctl, as_postgres)
        .args(["-D"])
        .arg(&data)
        .args(["-l"])
        .arg(dir.join("log"))
        .args(["-o", &opts, "-w", "start"])
        .stdout(Stdio::null())
        .status()
        .expect("pg_ctl runs");
    assert!(status.success(), "pg_ctl start failed; see {}/log", dir.display());
    // Stop and delete the cluster once this test process is gone.
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {run}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        run = if as_postgres { "runuser -u postgres -- " } else { "" },
        pg_ctl = pg_ctl.display(),
        data = data.display(),
        dir = dir.display(),
    );
    #[expect(clippy::zombie_processes, reason = "the watcher must outlive this process; it is never waited on")]
    Command::new("setsid")
        .args(["sh", "-c", &stop])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("watcher starts");
    Cluster { admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres") }
}

/// A fresh, empty database on the shared test cluster.
pub async fn fresh_database() -> String {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    let cluster = CLUSTER.get_or_init(start_cluster);
    let name = format!("natter_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&cluster.admin_url).await.expect("connect to the test cluster");
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create database");
    let base = cluster.admin_url.rsplit_once('/').map_or(cluster.admin_url.as_str(), |(base, _)| base);
    format!("{base}/{name}")
}
