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
