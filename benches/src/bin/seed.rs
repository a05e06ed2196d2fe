//! Seeds a tessera database with N tenants, each with one application and one secret, through
//! the same core calls the CLI makes, and writes one `Authorization: Basic` value per line for
//! the wrk script. Usage: `tessera-bench-seed DATABASE_URL N OUT_FILE` with `TESSERA_MASTER_KEY`
//! set.

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use std::io::Write;
use std::sync::Arc;
use tessera_core::admin::{Admin, NewTenant, SecretPolicy, check_master_key};
use tessera_core::clock::SystemClock;
use tessera_core::master::MasterKey;
use tessera_core::role::RoleCatalog;
use tessera_core::store::Store;
use tessera_store_postgres::PostgresStore;
use tessera_store_sqlite::SqliteStore;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, n, out] = args.as_slice() else {
        bail!("usage: tessera-bench-seed DATABASE_URL N OUT_FILE");
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
