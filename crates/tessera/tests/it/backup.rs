//! Backups (#11 item 5): `tessera backup` copies the SQLite database while a server issues
//! tokens, `tessera restore` puts it back (never under a running server, never under another
//! master key), and the restored database issues tokens for the secrets it held.

use crate::harness::{Env, s};

#[test]
fn a_backup_taken_while_serving_restores_and_issues_for_the_same_secrets() {
    let env = Env::new();
    let kept = env.client("merchant");
    let srv = env.serve();
    assert_eq!(
        srv.token_basic(&kept, "grant_type=client_credentials")
            .status,
        200
    );
    let backup = env.dir.path().join("backup.db");
    let b = env.cli(&["backup", "--to", backup.to_str().unwrap()]);
    assert!(b["bytes"].as_u64().unwrap() > 0, "{b}");
    assert!(s(&b["note"]).contains("master key"), "{b}");
    // A backup never overwrites.
    let (ok, _, err) = env.try_cli(&["backup", "--to", backup.to_str().unwrap()]);
    assert!(!ok && err.contains("exists"), "{err}");

    // After the backup: a new client, and the kept client's secret deleted.
    let later = env.client("merchant");
    env.cli(&[
        "secret",
        "delete",
        "--app",
        &kept.client_id,
        &kept.secret_id,
    ]);

    // Not under a running server.
    let (ok, _, err) = env.try_cli(&["restore", "--from", backup.to_str().unwrap()]);
    assert!(!ok && err.contains("server is running"), "{err}");
    assert!(srv.stop().success());

    let r = env.cli(&["restore", "--from", backup.to_str().unwrap()]);
    assert_eq!(s(&r["restored_from"]), backup.to_str().unwrap());
    let srv = env.serve();
    assert_eq!(
        srv.token_basic(&kept, "grant_type=client_credentials")
            .status,
        200,
        "the secret the backup held works again"
    );
    assert_eq!(
        srv.token_basic(&later, "grant_type=client_credentials")
            .status,
        401,
        "a client made after the backup is gone"
    );
    drop(srv);

    // Another master key: refused, and the database is left as it was.
    let other = Env::new();
    other.cli(&["tenant", "list"]);
    let (ok, _, err) = other.try_cli(&["restore", "--from", backup.to_str().unwrap()]);
    assert!(!ok && err.contains("another master key"), "{err}");
    assert_eq!(other.cli(&["tenant", "list"]).as_array().unwrap().len(), 0);

    // Not a database at all.
    let junk = env.dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    let (ok, _, err) = env.try_cli(&["restore", "--from", junk.to_str().unwrap()]);
    assert!(!ok && err.contains("not a tessera database"), "{err}");
    let srv = env.serve();
    assert_eq!(
        srv.token_basic(&kept, "grant_type=client_credentials")
            .status,
        200
    );
}

#[test]
fn postgres_databases_are_pointed_to_their_own_tools() {
    let mut env = Env::new();
    env.postgres = Some("postgres://tessera@127.0.0.1:1/none".into());
    let (ok, _, err) = env.try_cli(&["backup", "--to", "/tmp/never.db"]);
    assert!(!ok && err.contains("pg_dump"), "{err}");
}
