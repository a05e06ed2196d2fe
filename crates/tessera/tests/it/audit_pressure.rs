//! The audit log under pressure (#14 §6): audit writes never hold up change propagation, and old
//! audit rows are deleted after the configured retention.

use crate::harness::{Env, basic, s};
use std::time::{Duration, Instant};
use tessera_testkit::PgCluster;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn audit_actions(env: &Env, tenant: &str) -> Vec<String> {
    env.cli(&["audit", "--tenant", tenant])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}/{}", s(&e["action"]), s(&e["outcome"])))
        .collect()
}

/// An audit insert that cannot complete (the table is locked, as by a database in trouble)
/// while a node holds events to write: a tenant disabled from the CLI is still refused there
/// within the one-second contract, and no audit event is lost once the table is free again.
#[test]
fn a_stuck_audit_insert_does_not_delay_a_disable() {
    let Some(pg) = PgCluster::shared() else {
        return;
    };
    let env = Env::postgres(pg);
    let c = env.client("merchant");
    let srv = env.serve();
    let ok = || srv.token_basic(&c, "grant_type=client_credentials").status == 200;
    assert!(ok());

    let rt = runtime();
    let mut lock = rt.block_on(async {
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::PgConnection::connect(&env.database()).await.unwrap();
        conn.execute("BEGIN; LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        conn
    });
    // A failed authentication: an audit event the node now tries, and fails, to append.
    let wrong = basic(&c.client_id, "tsk_wrong");
    let r = srv.token_form(
        "grant_type=client_credentials",
        &[("authorization", &wrong)],
    );
    assert_eq!(r.status, 401);
    // Several audit flush intervals: the node's audit insert is waiting on the lock by now.
    std::thread::sleep(Duration::from_millis(600));

    // The CLI commits the disable, then waits on the lock itself to append its own audit record.
    let mut cli = env
        .command()
        .args(["tenant", "disable", &c.tenant_id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let refused = loop {
        if !ok() {
            break true;
        }
        if started.elapsed() > Duration::from_secs(3) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = started.elapsed();

    rt.block_on(async {
        use sqlx::Executor;
        lock.execute("ROLLBACK").await.unwrap();
    });
    drop(lock);
    let cli_ok = cli.wait().unwrap().success();
    assert!(
        refused,
        "the disable did not reach the node while an audit insert was stuck"
    );
    // The CLI's start-up is in it too; the node itself has one second.
    assert!(took < Duration::from_secs(2), "the disable took {took:?}");
    assert!(cli_ok);

    // Nothing was lost: the node's failure and the CLI's change are both in the log.
    let started = Instant::now();
    loop {
        let actions = audit_actions(&env, &c.tenant_id);
        let has = |a: &str| actions.iter().any(|x| x == a);
        if has("token.authenticate/failure") && has("tenant.disable/success") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "audit events missing: {actions:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Appends an audit row as an old deployment would have left it.
fn insert_old_audit_row(env: &Env, action: &str, at: time::OffsetDateTime) {
    let url = format!("sqlite://{}", env.db_path().display());
    let micros = i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap();
    let action = action.to_owned();
    runtime().block_on(async move {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, outcome) VALUES (?, 'cli', ?, 'success')",
        )
        .bind(micros)
        .bind(action)
        .execute(&mut c)
        .await
        .unwrap();
    });
}

fn all_actions(env: &Env) -> Vec<String> {
    env.cli(&["audit"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| s(&e["action"]))
        .collect()
}

/// Rows past `audit.retention_days` (default 400) are deleted when a node starts (and hourly);
/// 0 keeps them; a retention beyond a century is refused.
#[test]
fn old_audit_rows_are_deleted_after_the_retention() {
    let mut env = Env::new();
    env.cli(&["tenant", "create", "--name", "T"]);
    // 2000-01-01: far past any retention.
    let ancient = time::OffsetDateTime::from_unix_timestamp(946_684_800).unwrap();
    insert_old_audit_row(&env, "test.ancient", ancient);
    let before = all_actions(&env);
    assert!(before.contains(&"test.ancient".to_owned()), "{before:?}");

    env.set_config("[audit]\nretention_days = 0\n");
    let srv = env.serve();
    std::thread::sleep(Duration::from_millis(500));
    assert!(srv.stop().success());
    assert!(all_actions(&env).contains(&"test.ancient".to_owned()));

    env.set_config("[audit]\nretention_days = 36501\n");
    let (ok, _, err) = env.try_cli(&["audit"]);
    assert!(!ok);
    assert!(err.contains("audit.retention_days"), "{err}");

    env.set_config("");
    let srv = env.serve();
    srv.eventually(Duration::from_secs(5), || {
        !all_actions(&env).contains(&"test.ancient".to_owned())
    });
    let after = all_actions(&env);
    assert!(after.contains(&"tenant.create".to_owned()), "{after:?}");
}
