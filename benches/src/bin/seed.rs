//! Seeds a tessera database with N tenants, each with one application and one secret, through
//! the same core calls the CLI makes, and writes one `Authorization: Basic` value per line for
//! the wrk script. Usage: `tessera-bench-seed [--bulk] DATABASE_URL N OUT_FILE` with
//! `TESSERA_MASTER_KEY` set.
//!
//! `--bulk` (SQLite only) writes the same rows straight into the tables, 50,000 merchants per
//! transaction, for the million-merchant measurements: through the core each merchant is three
//! fsynced transactions, hours for a million.

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use std::io::Write;
use std::sync::Arc;
use tessera_core::admin::{Admin, NewTenant, SecretPolicy, check_master_key};
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::master::MasterKey;
use tessera_core::role::RoleCatalog;
use tessera_core::store::Store;
use tessera_store_postgres::PostgresStore;
use tessera_store_sqlite::SqliteStore;

#[tokio::main]
async fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().collect();
    let bulk = args.get(1).is_some_and(|a| a == "--bulk");
    if bulk {
        args.remove(1);
    }
    let [_, url, n, out] = args.as_slice() else {
        bail!("usage: tessera-bench-seed [--bulk] DATABASE_URL N OUT_FILE");
    };
    let n: usize = n.parse().context("N")?;
    let master =
        MasterKey::parse(&std::env::var("TESSERA_MASTER_KEY").context("TESSERA_MASTER_KEY")?)
            .map_err(|e| anyhow!("{e}"))?;
    let store: Arc<dyn Store> = if url.starts_with("postgres") {
        Arc::new(PostgresStore::open(url).await.map_err(|e| anyhow!("{e}"))?)
    } else {
        Arc::new(SqliteStore::open(url).await.map_err(|e| anyhow!("{e}"))?)
    };
    check_master_key(store.as_ref(), &master)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    if bulk {
        let sqlite = SqliteStore::open(url).await.map_err(|e| anyhow!("{e}"))?;
        return bulk_seed(&sqlite, &master, n, out).await;
    }
    let admin = Admin::new(
        store,
        master.pepper(),
        Arc::new(RoleCatalog::default()),
        Arc::new(SystemClock),
        SecretPolicy::default(),
        Arc::default(),
    )
    .acting_as(tessera_core::audit::Actor::cli());
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    for i in 0..n {
        let t = admin
            .create_tenant(NewTenant {
                name: format!("bench tenant {i}"),
                kind: Some("merchant".into()),
                parent_id: None,
            })
            .await
            .map_err(|e| anyhow!("{e}"))?;
        // A role with three scopes, so that the token carries about what the ceiling's does.
        let app = admin
            .create_app(t.id, &format!("bench app {i}"), "merchant")
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let s = admin
            .create_secret(app.client_id, "bench", None)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let pair = format!("{}:{}", app.client_id, s.value.expose());
        writeln!(
            file,
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )?;
    }
    file.flush()?;
    Ok(())
}

/// The rows of `n` merchants written directly, in transactions of 50,000 merchants, all with
/// change number 1 (a starting node loads everything after 0).
async fn bulk_seed(store: &SqliteStore, master: &MasterKey, n: usize, out: &str) -> Result<()> {
    use tessera_core::secret::SecretValue;
    let pepper = master.pepper();
    let now = SystemClock.now().unix_timestamp();
    let expires = now + 365 * 86_400;
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut done = 0;
    while done < n {
        let batch = (n - done).min(50_000);
        let mut tx = store.pool().begin().await?;
        for i in done..done + batch {
            let tenant = uuid::Uuid::new_v4().to_string();
            let client = uuid::Uuid::new_v4().to_string();
            let value = SecretValue::generate().map_err(|_| anyhow!("random"))?;
            sqlx::query("INSERT INTO tenants (id, name, kind, parent_id, status, created_at, seq) VALUES ($1, $2, 'merchant', NULL, 'active', $3, 1)")
                .bind(&tenant)
                .bind(format!("bench tenant {i}"))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO applications (client_id, tenant_id, name, role, status, created_at, seq) VALUES ($1, $2, $3, 'merchant', 'active', $4, 1)")
                .bind(&client)
                .bind(&tenant)
                .bind(format!("bench app {i}"))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO secrets (id, client_id, name, digest, created_at, expires_at, deleted, seq) VALUES ($1, $2, 'bench', $3, $4, $5, 0, 1)")
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(&client)
                .bind(pepper.digest(&value).0.to_vec())
                .bind(now)
                .bind(expires)
                .execute(&mut *tx)
                .await?;
            let pair = format!("{client}:{}", value.expose());
            writeln!(
                file,
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )?;
        }
        sqlx::query(
            "UPDATE change_seq SET value = CASE WHEN value < 1 THEN 1 ELSE value END WHERE id = 1",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        done += batch;
        eprintln!("{done} merchants");
    }
    file.flush()?;
    Ok(())
}
