//! The guard's refusals, one test per attack, against tokens signed with real keys.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "tests"
)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;
use tessera_core::keys::SigningKey;
use tessera_core::master::MasterKey;
use tessera_guard::{Guard, GuardConfig, Rejection};
use tessera_proto::{
    AccessTokenClaims, Algorithm, Audience, Jwks, Revocation, RevocationFeed, RevocationKind,
};

const ISS: &str = "https://auth.example.com";
const AUD: &str = "https://payments.example.com";

fn now_t() -> time::OffsetDateTime {
    // The guard reads the system clock, so its tests mint tokens against it too.
    use tessera_core::clock::Clock;
    tessera_core::clock::SystemClock.now()
}

fn now() -> i64 {
    now_t().unix_timestamp()
}

fn claims() -> AccessTokenClaims {
    let t = now();
    AccessTokenClaims {
        iss: ISS.into(),
        sub: "client".into(),
        client_id: "client".into(),
        aud: Audience::One(AUD.into()),
        exp: t + 300,
        iat: t,
        nbf: t,
        jti: "jti-1".into(),
        scope: "transactions:process".into(),
        tenant_id: "tenant".into(),
        secret_id: "secret".into(),
        auth_time: None,
        extra: Default::default(),
    }
}

struct Fixture {
    key: Arc<SigningKey>,
    guard: Guard,
}

fn fixture(alg: Algorithm) -> Fixture {
    let cipher = MasterKey::generate().unwrap().key_cipher();
    let t = now_t();
    let (key, _) = SigningKey::generate(alg, &cipher, t, t).unwrap();
    let jwks = Jwks {
        keys: vec![key.jwk().clone()],
    };
    let guard = Guard::from_jwks(GuardConfig::new(ISS, vec![AUD.into()]), &jwks);
    Fixture {
        key: Arc::new(key),
        guard,
    }
}

fn sign(f: &Fixture, c: &AccessTokenClaims) -> String {
    f.key.sign_jwt(c).unwrap()
}

#[test]
fn a_valid_token_passes_for_every_algorithm() {
    for alg in Algorithm::ALL {
        let f = fixture(alg);
        let got = f.guard.verify_cached(&sign(&f, &claims())).unwrap();
        assert_eq!(got, claims());
    }
}

#[test]
fn alg_none_is_refused() {
    let f = fixture(Algorithm::Es256);
    let token = sign(&f, &claims());
    let payload = token.split('.').nth(1).unwrap();
    let header = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"alg":"none","typ":"at+jwt","kid":"{}"}}"#,
        f.key.kid()
    ));
    assert_eq!(
        f.guard.verify_cached(&format!("{header}.{payload}.")),
        Err(Rejection::Malformed)
    );
}

#[test]
fn alg_confusion_hs256_with_the_public_key_is_refused() {
    let f = fixture(Algorithm::Rs256);
    let token = sign(&f, &claims());
    let payload = token.split('.').nth(1).unwrap();
    let header = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"alg":"HS256","typ":"at+jwt","kid":"{}"}}"#,
        f.key.kid()
    ));
    let input = format!("{header}.{payload}");
    // The attacker's HMAC key: the published public key itself.
    let public = serde_json::to_vec(f.key.jwk()).unwrap();
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &public);
    let sig = URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(&k, input.as_bytes()));
    assert_eq!(
        f.guard.verify_cached(&format!("{input}.{sig}")),
        Err(Rejection::Malformed)
    );
    // Nor does claiming another allow-listed alg for this key work.
    let header = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"alg":"ES256","typ":"at+jwt","kid":"{}"}}"#,
        f.key.kid()
    ));
    let sig = token.split('.').nth(2).unwrap();
    assert_eq!(
        f.guard.verify_cached(&format!("{header}.{payload}.{sig}")),
        Err(Rejection::BadSignature)
    );
}

#[test]
fn a_tampered_payload_is_refused() {
    let f = fixture(Algorithm::EdDsa);
    let token = sign(&f, &claims());
    let mut c = claims();
    c.scope = "transactions:process admin".into();
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap());
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(f.guard.verify_cached(&forged), Err(Rejection::BadSignature));
}

#[test]
fn an_unknown_kid_and_another_deployments_token_are_refused() {
    let f = fixture(Algorithm::Es256);
    let other = fixture(Algorithm::Es256);
    // Another deployment: same issuer name even, but its own key.
    assert_eq!(
        f.guard.verify_cached(&sign(&other, &claims())),
        Err(Rejection::UnknownKey)
    );
    // Its key under our kid: the signature fails.
    let token = sign(&other, &claims());
    let parts: Vec<&str> = token.split('.').collect();
    let header = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"alg":"ES256","typ":"at+jwt","kid":"{}"}}"#,
        f.key.kid()
    ));
    assert_eq!(
        f.guard
            .verify_cached(&format!("{header}.{}.{}", parts[1], parts[2])),
        Err(Rejection::BadSignature)
    );
}

#[test]
fn expired_and_not_yet_valid_tokens_are_refused_with_a_small_leeway() {
    let f = fixture(Algorithm::Es256);
    let mut c = claims();
    c.exp = now() - 31;
    assert_eq!(
        f.guard.verify_cached(&sign(&f, &c)),
        Err(Rejection::Expired)
    );
    c.exp = now() - 5;
    assert!(
        f.guard.verify_cached(&sign(&f, &c)).is_ok(),
        "within the 30 s leeway"
    );
    let mut c = claims();
    c.nbf = now() + 120;
    assert_eq!(
        f.guard.verify_cached(&sign(&f, &c)),
        Err(Rejection::NotYetValid)
    );
}

#[test]
fn wrong_audience_and_wrong_issuer_are_refused() {
    let f = fixture(Algorithm::Es256);
    let mut c = claims();
    c.aud = Audience::One("https://other.example.com".into());
    assert_eq!(
        f.guard.verify_cached(&sign(&f, &c)),
        Err(Rejection::WrongAudience)
    );
    c.aud = Audience::Many(vec!["x".into(), AUD.into()]);
    assert!(f.guard.verify_cached(&sign(&f, &c)).is_ok());
    let mut c = claims();
    c.iss = format!("{ISS}/");
    assert_eq!(
        f.guard.verify_cached(&sign(&f, &c)),
        Err(Rejection::WrongIssuer)
    );
}

#[test]
fn wrong_typ_is_refused() {
    let f = fixture(Algorithm::Es256);
    let token = sign(&f, &claims());
    let parts: Vec<&str> = token.split('.').collect();
    let header = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"alg":"ES256","typ":"JWT","kid":"{}"}}"#,
        f.key.kid()
    ));
    assert_eq!(
        f.guard
            .verify_cached(&format!("{header}.{}.{}", parts[1], parts[2])),
        Err(Rejection::Malformed)
    );
}

#[test]
fn revocations_by_jti_secret_application_and_tenant() {
    let f = fixture(Algorithm::Es256);
    let token = sign(&f, &claims());
    let t = now();
    for (kind, id) in [
        (RevocationKind::Jti, "jti-1"),
        (RevocationKind::Secret, "secret"),
        (RevocationKind::Application, "client"),
        (RevocationKind::Tenant, "tenant"),
    ] {
        let g = fixture(Algorithm::Es256);
        let token = sign(&g, &claims());
        assert!(g.guard.verify_cached(&token).is_ok());
        g.guard.revoke(&RevocationFeed {
            cursor: 1,
            revocations: vec![Revocation {
                kind,
                id: id.into(),
                before: t,
                expires: t + 600,
            }],
            more: false,
        });
        assert_eq!(
            g.guard.verify_cached(&token),
            Err(Rejection::Revoked),
            "{kind:?}"
        );
    }
    // A record covers tokens minted before it, not after.
    f.guard.revoke(&RevocationFeed {
        cursor: 1,
        revocations: vec![Revocation {
            kind: RevocationKind::Secret,
            id: "secret".into(),
            before: t - 10,
            expires: t + 600,
        }],
        more: false,
    });
    assert!(f.guard.verify_cached(&token).is_ok());
}

/// Found by fuzzing the guard against jsonwebtoken (fuzz/, target `jwt`): a signed token whose
/// `nbf`, `iat` or `exp` is before 1970 was accepted, where jsonwebtoken refuses it. Such times
/// are never issued; they are refused as malformed. Extreme values do not overflow the leeway
/// arithmetic either.
#[test]
fn times_before_1970_and_at_the_limits_are_refused() {
    let f = fixture(Algorithm::Es256);
    for (what, edit) in [
        (
            "nbf",
            (|c: &mut AccessTokenClaims| c.nbf = -700_000_000) as fn(&mut _),
        ),
        ("iat", |c| c.iat = -1),
        ("exp", |c| c.exp = -1),
        ("auth_time", |c| c.auth_time = Some(-5)),
        ("nbf min", |c| c.nbf = i64::MIN),
    ] {
        let mut c = claims();
        edit(&mut c);
        assert_eq!(
            f.guard.verify_cached(&sign(&f, &c)),
            Err(Rejection::Malformed),
            "{what}"
        );
    }
    let mut c = claims();
    c.exp = i64::MAX;
    assert!(
        f.guard.verify_cached(&sign(&f, &c)).is_ok(),
        "a far exp is not an overflow"
    );
}
