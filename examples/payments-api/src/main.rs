//! `payments-api --issuer URL --audience AUD [--listen ADDR] [--style STYLE]`: serves the sample
//! API; prints `{"listening": ADDR}`. With `PAYMENTS_FEED_CLIENT_ID` and
//! `PAYMENTS_FEED_CLIENT_SECRET` (a client with the resource-server role) it follows tessera's
//! revocation feed.

use clap::Parser;
use tessera_guard::{ErrorStyle, FeedCredentials, Guard, GuardConfig};

/// A sample payments API protected by tessera-guard.
#[derive(Debug, Parser)]
struct Args {
    /// tessera's issuer URL.
    #[arg(long)]
    issuer: String,
    /// Accepted audiences (repeatable).
    #[arg(long, required = true)]
    audience: Vec<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: String,
    /// 401/403 shape: rfc6750, paysecurez, basiq or ipospays.
    #[arg(long, default_value = "rfc6750")]
    style: ErrorStyle,
    /// Feed client id.
    #[arg(long, env = "PAYMENTS_FEED_CLIENT_ID")]
    feed_client_id: Option<String>,
    /// Feed client secret.
    #[arg(long, env = "PAYMENTS_FEED_CLIENT_SECRET", hide_env_values = true)]
    feed_client_secret: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut config = GuardConfig::new(&args.issuer, args.audience).with_style(args.style);
    if let (Some(client_id), Some(client_secret)) = (args.feed_client_id, args.feed_client_secret) {
        config = config.with_feed(FeedCredentials {
            client_id,
            client_secret,
        });
    }
    let guard = Guard::start(config).await?;
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    println!(
        "{}",
        serde_json::json!({"listening": listener.local_addr()?.to_string()})
    );
    axum::serve(listener, payments_api::router(&guard)).await?;
    Ok(())
}
