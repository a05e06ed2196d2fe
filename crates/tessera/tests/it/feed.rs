//! The revocation feed answers a resource server only the records of its tenant and the tenants
//! below it, in pages that a reader follows with `more` (#14 §4).

use crate::harness::{Client, Env, Server, basic, s};
use serde_json::Value;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// One answer of the feed for `rs`.
fn feed(srv: &Server, rs: &Client, query: &str) -> Value {
    let r = srv
        .http
        .get(srv.url(&format!("/oauth2/revocations?{query}")))
        .header("authorization", basic(&rs.client_id, &rs.secret))
        .timeout(Duration::from_secs(40))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().unwrap()
}

/// The ids of the records of one answer.
fn ids(answer: &Value) -> Vec<String> {
    answer["revocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| s(&r["id"]))
        .collect()
}

/// Every record for `rs` from the start, following `more`; the pages' sizes too.
fn read_all(srv: &Server, rs: &Client) -> (Vec<String>, Vec<usize>) {
    let mut cursor = 0;
    let mut all = Vec::new();
    let mut pages = Vec::new();
    loop {
        let page = feed(srv, rs, &format!("since={cursor}"));
        let got = ids(&page);
        pages.push(got.len());
        all.extend(got);
        let next = page["cursor"].as_i64().unwrap();
        if page["more"] != true {
            return (all, pages);
        }
        assert!(
            next > cursor,
            "a page with more must move the cursor: {page}"
        );
        cursor = next;
    }
}

#[test]
fn each_tenant_reads_its_own_records_and_its_childrens() {
    let env = Env::new();
    let a = env.client("merchant");
    let b = env.client("merchant");
    let child = env.cli(&[
        "tenant",
        "create",
        "--name",
        "Child",
        "--parent",
        &a.tenant_id,
    ]);
    let c = env.client_of(&s(&child["id"]), "merchant");
    let rs_a = env.client_of(&a.tenant_id, "resource-server");
    let rs_b = env.client_of(&b.tenant_id, "resource-server");
    let rs_c = env.client_of(&c.tenant_id, "resource-server");
    let srv = env.serve();

    env.cli(&["secret", "delete", "--app", &a.client_id, &a.secret_id]);
    env.cli(&["secret", "delete", "--app", &c.client_id, &c.secret_id]);
    srv.eventually(Duration::from_secs(3), || {
        ids(&feed(&srv, &rs_a, "since=0")).len() == 2
    });
    assert_eq!(
        ids(&feed(&srv, &rs_a, "since=0")),
        [a.secret_id.clone(), c.secret_id.clone()],
        "the parent reads its own record and its child's"
    );
    assert_eq!(
        ids(&feed(&srv, &rs_c, "since=0")),
        vec![c.secret_id.clone()],
        "the child reads its own only"
    );
    let other = feed(&srv, &rs_b, "since=0");
    assert_eq!(
        ids(&other),
        Vec::<String>::new(),
        "nothing of another tenant"
    );
    let cursor = other["cursor"].as_i64().unwrap();
    assert!(cursor > 0, "an empty answer still moves the cursor");

    // A long-poll from B sleeps through A's records and wakes for B's own.
    let http = srv.http.clone();
    let url = srv.url(&format!("/oauth2/revocations?since={cursor}&wait=15"));
    let auth = basic(&rs_b.client_id, &rs_b.secret);
    let poll = std::thread::spawn(move || {
        let r = http
            .get(url)
            .header("authorization", auth)
            .timeout(Duration::from_secs(40))
            .send()
            .unwrap();
        (Instant::now(), r.json::<Value>().unwrap())
    });
    std::thread::sleep(Duration::from_millis(300));
    env.cli(&["app", "disable", &a.client_id]);
    std::thread::sleep(Duration::from_millis(2_000));
    assert!(!poll.is_finished(), "B's long-poll answered for A's record");
    let deleted_at = Instant::now();
    env.cli(&["secret", "delete", "--app", &b.client_id, &b.secret_id]);
    let (arrived, answer) = poll.join().unwrap();
    assert!(arrived > deleted_at);
    assert_eq!(ids(&answer), vec![b.secret_id.clone()], "{answer}");
    assert!(
        !ids(&feed(&srv, &rs_a, "since=0")).contains(&b.secret_id),
        "A does not read B's record"
    );
}

#[test]
fn a_long_feed_is_read_in_pages_without_repeats_or_gaps() {
    const N: usize = 1_200;
    const THREADS: usize = 4;
    let env = Env::with_config("[limits]\nrevocations_per_minute_per_client = 0\n");
    let m = env.client("merchant");
    let rs = env.client_of(&m.tenant_id, "resource-server");
    let outsider = env.client("resource-server");
    let srv = env.serve();

    // N tokens, each revoked by its client (RFC 7009), from a few threads at once.
    let jtis: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    (0..N / THREADS)
                        .map(|_| {
                            let r = srv.token_basic(&m, "grant_type=client_credentials");
                            assert_eq!(r.status, 200, "{}", r.text);
                            let token = s(&r.json()["access_token"]);
                            let revoked = srv.post(
                                "/oauth2/revoke",
                                "application/x-www-form-urlencoded",
                                format!("token={token}").into_bytes(),
                                &[("authorization", &basic(&m.client_id, &m.secret))],
                            );
                            assert_eq!(revoked.status, 200, "{}", revoked.text);
                            s(&crate::jwt::payload(&token)["jti"])
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });

    let (read, pages) = read_all(&srv, &rs);
    assert!(pages.len() >= 2, "{N} records in one page: {pages:?}");
    assert!(pages.iter().all(|&p| p <= 1_000), "{pages:?}");
    let unique: HashSet<&String> = read.iter().collect();
    assert_eq!(unique.len(), read.len(), "a record came twice");
    let want: HashSet<&String> = jtis.iter().collect();
    assert_eq!(unique, want, "records skipped or foreign ones read");

    // Another tenant's reader gets none of them, yet its cursor moves past them.
    let (other, _) = read_all(&srv, &outsider);
    assert!(other.is_empty(), "{} foreign records", other.len());
    let answer = feed(&srv, &outsider, "since=0");
    assert!(answer["cursor"].as_i64().unwrap() >= N as i64);
}
