//! The JWKS a resource server's guard fetches from the issuer (or from whatever answers at that
//! URL): any bytes, parsed and turned into a guard, then a token checked against it. Must not
//! panic; keys it cannot use are skipped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_guard::{Guard, GuardConfig};
use tessera_proto::Jwks;

fuzz_target!(|data: &[u8]| {
    let Ok(jwks) = serde_json::from_slice::<Jwks>(data) else {
        return;
    };
    let guard = Guard::from_jwks(
        GuardConfig::new(
            "https://auth.example.com",
            vec!["https://api.example.com".into()],
        ),
        &jwks,
    );
    let kid = jwks.keys.first().map_or("k", |k| k.kid.as_str());
    let header = format!(
        r#"{{"alg":"ES256","typ":"at+jwt","kid":{}}}"#,
        serde_json::json!(kid)
    );
    let token = format!("{}.e30.AAAA", b64(header.as_bytes()));
    assert!(guard.verify_cached(&token).is_err());
});

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}
