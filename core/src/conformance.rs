//! The storage conformance suite: what every backend of the [`Store`](crate::Store) traits must
//! guarantee, written once and run by each backend's own tests.
//!
//! A backend calls [`conformance_tests!`](crate::conformance_tests) with an expression that
//! opens a fresh, empty store and returns a [`Fixture`]: two handles on that one store. Two
//! handles stand for two processes on one database (for sled, two clones of one `Db`; for
//! PostgreSQL, two pools), so the races below are between handles, never inside one.
//!
//! Every check asserts what a bug in a backend would break: a second claim of a once-only id,
//! a half-written batch, a page that skips or repeats, a revocation stored without its list.

use crate::ids::{LicenseId, PolicyId, ProductId};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::json;

use crate::model::{
    AuditEvent, Delivery, DeliveryState, DownloadGrant, License, Machine, Order, Policy, Product,
    SecurityEvent, Session, Severity,
};
use crate::seats::{Recognised, SeatClaim, SeatError, SeatRefusal, SeatRule, Seated};
use crate::store::{
    AuditFilter, Constraint, Halted, LicenseFilter, LicensesWith, PageRequest, Record,
    RevocationState, Seat, SeatChange, SeatsWith, Store, StoreError,
};

/// Two handles on one fresh store, and whatever keeps it alive (a temporary directory).
pub struct Fixture {
    /// The first handle.
    pub a: Arc<dyn Store>,
    /// The second handle, on the same data.
    pub b: Arc<dyn Store>,
    /// Dropped after the test.
    pub keep: Box<dyn std::any::Any + Send>,
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture").finish_non_exhaustive()
    }
}

/// Opens a fresh store.
pub type Open = fn() -> Pin<Box<dyn Future<Output = Fixture> + Send>>;

/// Expands to one `#[tokio::test]` per check, each on a store from `$open` (an [`Open`]). The
/// calling crate needs `tokio` with the `macros` and multi-threaded runtime features.
#[macro_export]
macro_rules! conformance_tests {
    ($open:expr) => {
        $crate::conformance_tests!(@each $open;
            product_codes_numbers_and_names_are_unique,
            a_batch_of_licenses_is_written_all_or_none,
            license_listings_filter_and_page_without_gaps,
            license_rows_are_the_listed_licenses_through_every_change,
            once_only_ids_are_spent_once_across_handles,
            a_revocation_is_stored_with_its_list_or_not_at_all,
            machine_counts_follow_the_machines,
            concurrent_activations_never_exceed_the_seats,
            a_seat_taken_reaps_the_dead_and_writes_its_audit_entries,
            heartbeats_and_culls_change_a_seat_one_at_a_time,
            a_seat_change_touches_only_the_machine_it_names,
            a_declined_operation_writes_nothing_and_hands_back_its_reason,
            concurrent_license_changes_are_never_lost,
            no_seat_is_taken_on_a_deleted_license,
            a_session_token_rotates_once,
            a_change_is_written_with_its_record_and_deliveries_settle_into_a_log,
            a_validation_follows_the_documented_order,
            the_outbox_hands_out_increasing_ids,
            audit_filters_and_cursors,
            the_first_sealed_key_stored_wins,
            a_file_is_committed_once_and_read_back_in_chunks,
            validation_facts_are_what_the_reads_one_by_one_find,
            a_lease_holds_its_seat_until_it_ends_then_gives_it_back,
            tokens_are_revoked_once_and_requests_spent_once,
            daily_counts_add_up_across_handles,
            the_overview_reads_expiries_and_seat_counts_from_indexes,
            the_seat_rule_finds_ended_seats_and_parts_through_indexes,
        );
    };
    (@each $open:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let open: $crate::conformance::Open = $open;
                $crate::conformance::$name(open().await).await;
            }
        )*
    };
}

const T0: i64 = 1_800_000_000;

fn product(code: &str, number: u64, name: &str) -> Product {
    serde_json::from_value(json!({
        "id": format!("prd_{code}"), "numeric_id": number, "code": code, "name": name,
        "key_format": "XXXX-XXXX", "key_prefix": "", "default_policy_id": null,
        "token_lifetime": 86_400, "created_at": T0,
    }))
    .unwrap_or_else(|e| panic!("product: {e}"))
}

fn policy(product_id: &str) -> Policy {
    serde_json::from_value(json!({
        "id": format!("pol_{product_id}"), "product_id": product_id, "name": "std",
        "floating": false, "max_machines": 2, "duration": null, "heartbeat_interval": 600,
        "heartbeat_ttl": 1800, "offline_grace": 604_800, "refresh_after": 86_400,
        "entitlements": [], "hwid_locked": false, "created_at": T0,
    }))
    .unwrap_or_else(|e| panic!("policy: {e}"))
}

fn license(id: &str, product_id: &str, status: &str, expires_at: Option<i64>) -> License {
    serde_json::from_value(json!({
        "id": id, "key": format!("KEY-{id}"), "product_id": product_id,
        "policy_id": format!("pol_{product_id}"), "status": status, "kind": "subscription",
        "expires_at": expires_at, "seats": null, "domains": [], "entitlements": [],
        "metadata": {}, "numeric_id": 0, "created_at": T0, "updated_at": T0,
    }))
    .unwrap_or_else(|e| panic!("license: {e}"))
}

fn machine(license_id: &str, fingerprint: &str) -> Machine {
    serde_json::from_value(json!({
        "id": format!("mch_{license_id}_{fingerprint}"), "license_id": license_id,
        "fingerprint": fingerprint, "hostname": null, "platform": null, "ip": null,
        "first_seen": T0, "last_seen": T0, "last_heartbeat": T0, "token_id": "",
        "numeric_id": 0,
    }))
    .unwrap_or_else(|e| panic!("machine: {e}"))
}

/// An active, permanent blacklist entry.
fn blacklist_entry(
    id: &str,
    kind: crate::model::BlacklistType,
    value: &str,
) -> crate::model::BlacklistEntry {
    crate::model::BlacklistEntry {
        id: id.into(),
        kind,
        value: value.into(),
        reason: "chargeback".into(),
        severity: Severity::High,
        is_active: true,
        expires_at: None,
        created_by: None,
        created_at: T0,
    }
}

fn conflict(r: Result<(), StoreError>) -> Constraint {
    match r {
        Err(StoreError::Conflict { constraint, .. }) => constraint,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Codes, numbers and (among products that answer by name) names are unique, whichever
/// handle wrote the first; a refused product leaves nothing behind.
pub async fn product_codes_numbers_and_names_are_unique(f: Fixture) {
    f.a.insert_product(&product("acme", 1, "Acme"))
        .await
        .expect("first");
    let mut same_code = product("acme", 2, "Other");
    same_code.id = "prd_other".into();
    assert_eq!(
        conflict(f.b.insert_product(&same_code).await),
        Constraint::ProductCode
    );
    assert_eq!(
        conflict(f.b.insert_product(&product("beta", 1, "Beta")).await),
        Constraint::ProductNumber
    );
    assert_eq!(
        conflict(f.b.insert_product(&product("gamma", 3, " acme ")).await),
        Constraint::ProductName,
        "names compare trimmed and without regard to case"
    );
    for refused in ["prd_other", "prd_beta", "prd_gamma"] {
        assert_eq!(
            f.a.product(&ProductId::from(refused)).await.expect("read"),
            None
        );
    }
    assert!(f.a.product_by_code("beta").await.expect("read").is_none());
    assert_eq!(
        f.b.product_by_number(1).await.expect("read").map(|p| p.id),
        Some("prd_acme".into())
    );
}

/// `insert_licenses` writes every license of a batch or none: a key taken by another license
/// refuses the whole batch. Policies and products in use cannot be deleted.
pub async fn a_batch_of_licenses_is_written_all_or_none(f: Fixture) {
    f.a.insert_product(&product("acme", 1, "Acme"))
        .await
        .expect("product");
    f.a.insert_license(
        &license("lic_1", "prd_acme", "active", None),
        Record::none(),
    )
    .await
    .expect("first");
    let mut clash = license("lic_3", "prd_acme", "active", None);
    clash.key = "KEY-lic_1".into();
    let batch = [license("lic_2", "prd_acme", "active", None), clash];
    match f.b.insert_licenses(&batch, Record::none()).await {
        Err(StoreError::Conflict {
            constraint: Constraint::LicenseKey,
            ..
        }) => {}
        other => panic!("expected a key conflict, got {other:?}"),
    }
    assert_eq!(
        f.a.license(&LicenseId::from("lic_2")).await.expect("read"),
        None,
        "none"
    );
    assert_eq!(f.a.license_by_key("KEY-lic_2").await.expect("read"), None);
    assert_eq!(f.a.license_count().await.expect("count"), 1);
    f.b.insert_licenses(&batch[..1], Record::none())
        .await
        .expect("alone");
    assert_eq!(f.a.license_count().await.expect("count"), 2);
    // A policy that licenses use stays, and so does a product that has licenses.
    f.a.put_policy(&policy("prd_acme")).await.expect("policy");
    assert_eq!(
        conflict(f.b.delete_policy("pol_prd_acme").await),
        Constraint::InUse
    );
    assert!(
        f.a.policy(&PolicyId::from("pol_prd_acme"))
            .await
            .expect("read")
            .is_some()
    );
    let acme =
        f.a.product(&ProductId::from("prd_acme"))
            .await
            .expect("read")
            .expect("product");
    assert_eq!(conflict(f.b.delete_product(&acme).await), Constraint::InUse);
}

/// Listings return what passes the filter, in id order, each license once, across pages.
pub async fn license_listings_filter_and_page_without_gaps(f: Fixture) {
    for (code, n) in [("acme", 1), ("beta", 2)] {
        f.a.insert_product(&product(code, n, code))
            .await
            .expect("product");
    }
    let mut want_acme = Vec::new();
    for i in 0..11 {
        let id = format!("lic_{i:02}");
        let (p, status) = if i % 3 == 0 {
            ("prd_beta", "active")
        } else if i % 4 == 0 {
            ("prd_acme", "suspended")
        } else {
            ("prd_acme", "active")
        };
        // Two active acme licenses expire: by status they are expired, not active.
        let expires = (i == 1 || i == 2).then_some(T0 - 1);
        f.a.insert_license(&license(&id, p, status, expires), Record::none())
            .await
            .expect("license");
        if p == "prd_acme" {
            want_acme.push(id);
        }
    }
    let walk = |filter: LicenseFilter| {
        let store = f.b.clone();
        async move {
            let mut seen = Vec::new();
            let mut page = PageRequest {
                after: None,
                limit: 2,
            };
            loop {
                let got = store.licenses(&filter, &page).await.expect("page");
                assert!(got.items.len() <= 2);
                seen.extend(got.items.into_iter().map(|l| l.id));
                match got.next {
                    Some(n) => page.after = Some(n),
                    None => return seen,
                }
            }
        }
    };
    let acme = walk(LicenseFilter {
        product_id: Some("prd_acme".into()),
        ..LicenseFilter::default()
    })
    .await;
    assert_eq!(acme, want_acme);
    let all = walk(LicenseFilter::default()).await;
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!((all.len(), &all), (11, &sorted), "id order, each once");
    let active_acme = walk(LicenseFilter {
        product_id: Some("prd_acme".into()),
        status_at: Some((crate::model::LicenseStatus::Active, T0)),
        ..LicenseFilter::default()
    })
    .await;
    assert_eq!(active_acme, ["lic_05", "lic_07", "lic_10"]);
    let expired = walk(LicenseFilter {
        status_at: Some((crate::model::LicenseStatus::Expired, T0)),
        ..LicenseFilter::default()
    })
    .await;
    assert_eq!(expired, ["lic_01", "lic_02"]);
    let none = walk(LicenseFilter {
        product_id: Some("prd_none".into()),
        ..LicenseFilter::default()
    })
    .await;
    assert!(none.is_empty());

    // Searching: the last four characters of a key in any case, a whole key or id, a
    // customer, a metadata value; each across pages of two, with the other filters.
    let mut tagged = license("lic_99", "prd_beta", "active", None);
    tagged.customer_id = Some(42);
    tagged.metadata.insert("order".into(), json!("A-991"));
    f.a.insert_license(&tagged, Record::none())
        .await
        .expect("license");
    let search = |text: &str, customer: Option<u64>| LicenseFilter {
        search: Some(crate::store::LicenseSearch::new(text, customer)),
        ..LicenseFilter::default()
    };
    assert_eq!(walk(search("c_05", None)).await, ["lic_05"]);
    assert_eq!(walk(search(" KEY-lic_07 ", None)).await, ["lic_07"]);
    assert_eq!(walk(search("lic_10", None)).await, ["lic_10"]);
    assert_eq!(walk(search("A-991", None)).await, ["lic_99"]);
    assert_eq!(
        walk(search("someone@example.com", Some(42))).await,
        ["lic_99"]
    );
    assert!(
        walk(search("A-99", None)).await.is_empty(),
        "values match whole"
    );
    assert!(
        walk(search("_05", None)).await.is_empty(),
        "a tail is four characters"
    );
    let beta_only = walk(LicenseFilter {
        product_id: Some("prd_acme".into()),
        ..search("A-991", None)
    })
    .await;
    assert!(beta_only.is_empty(), "the search keeps the other filters");
}

/// A page of rows is the page of licenses it stands for, row by row and cursor by cursor,
/// for every filter, after each kind of change a license goes through: created alone or in a
/// batch, replaced, changed, moved through an order, revoked and deleted.
pub async fn license_rows_are_the_listed_licenses_through_every_change(f: Fixture) {
    use crate::model::{LicenseRow, LicenseStatus};
    use crate::store::LicenseSearch;
    for (code, n) in [("acme", 1), ("beta", 2)] {
        f.a.insert_product(&product(code, n, code))
            .await
            .expect("product");
    }
    let filters = || {
        let mut out = vec![LicenseFilter::default()];
        for p in ["prd_acme", "prd_beta"] {
            out.push(LicenseFilter {
                product_id: Some(p.into()),
                ..LicenseFilter::default()
            });
        }
        out.push(LicenseFilter {
            policy_id: Some("pol_other".into()),
            ..LicenseFilter::default()
        });
        for st in [
            LicenseStatus::Active,
            LicenseStatus::Expired,
            LicenseStatus::Suspended,
            LicenseStatus::Revoked,
        ] {
            out.push(LicenseFilter {
                status_at: Some((st, T0)),
                ..LicenseFilter::default()
            });
            out.push(LicenseFilter {
                product_id: Some("prd_acme".into()),
                status_at: Some((st, T0)),
                ..LicenseFilter::default()
            });
        }
        out.push(LicenseFilter {
            search: Some(LicenseSearch::new("c_03", None)),
            ..LicenseFilter::default()
        });
        out
    };
    // Both listings walked side by side from `reader`: each page of rows must be the page of
    // licenses, mapped. Returns how many rows the unfiltered walk saw.
    let compare = |reader: Arc<dyn Store>, stage: &'static str| async move {
        let mut seen = 0;
        for filter in filters() {
            for limit in [2, 50] {
                let mut page = PageRequest { after: None, limit };
                loop {
                    let ls = reader.licenses(&filter, &page).await.expect("licenses");
                    let rows = reader.license_rows(&filter, &page).await.expect("rows");
                    let want: Vec<LicenseRow> = ls.items.iter().map(LicenseRow::of).collect();
                    assert_eq!(rows.items, want, "{stage}: {filter:?}, {page:?}");
                    assert_eq!(rows.next, ls.next, "{stage}: {filter:?}, {page:?}");
                    if filter == LicenseFilter::default() && limit == 50 {
                        seen += rows.items.len();
                    }
                    match rows.next {
                        Some(n) => page.after = Some(n),
                        None => break,
                    }
                }
            }
        }
        seen
    };
    for i in 0..5 {
        let p = if i % 2 == 0 { "prd_acme" } else { "prd_beta" };
        f.a.insert_license(
            &license(&format!("lic_{i:02}"), p, "active", None),
            Record::none(),
        )
        .await
        .expect("license");
    }
    let batch: Vec<License> = (5..9)
        .map(|i| license(&format!("lic_{i:02}"), "prd_acme", "suspended", None))
        .collect();
    f.b.insert_licenses(&batch, Record::none())
        .await
        .expect("batch");
    assert_eq!(compare(f.a.clone(), "created").await, 9);

    // Replaced: another policy and an expiry in the past (active, but expired by then).
    let mut l =
        f.a.license(&LicenseId::from("lic_00"))
            .await
            .expect("read")
            .expect("stored");
    l.policy_id = "pol_other".into();
    l.expires_at = Some(T0 - 1);
    f.a.update_license(&l).await.expect("update");
    // Changed: suspended, then reinstated with an expiry ahead.
    f.b.change_license("lic_01", &|l| {
        let mut next = l.clone();
        next.status = LicenseStatus::Suspended;
        Ok(Some((next, Record::none())))
    })
    .await
    .expect("change");
    f.a.change_license("lic_05", &|l| {
        let mut next = l.clone();
        next.status = LicenseStatus::Active;
        next.expires_at = Some(T0 + 10);
        Ok(Some((next, Record::none())))
    })
    .await
    .expect("change");
    // Through an order: its due date is the expiry.
    let order = Order {
        id: 7,
        customer_id: 1,
        product_id: "prd_acme".into(),
        price_id: 1,
        license_id: "lic_02".into(),
        due_date: Some(T0 - 5),
        created_at: T0,
        updated_at: T0,
    };
    f.b.update_order(&order, &|l| {
        let mut next = l.clone();
        next.expires_at = Some(T0 - 5);
        Ok(Some((next, Record::none())))
    })
    .await
    .expect("order");
    let mut revoked =
        f.a.license(&LicenseId::from("lic_04"))
            .await
            .expect("read")
            .expect("stored");
    revoked.status = LicenseStatus::Revoked;
    f.a.revoke_license(
        &revoked,
        &[],
        &|st| Ok(st.sequence.to_be_bytes().to_vec()),
        &|_| Record::none(),
    )
    .await
    .expect("revoke");
    let gone =
        f.a.license(&LicenseId::from("lic_06"))
            .await
            .expect("read")
            .expect("stored");
    f.b.delete_license(&gone, Record::none())
        .await
        .expect("delete");
    assert_eq!(compare(f.b.clone(), "changed").await, 8);
    let rows =
        f.a.license_rows(
            &LicenseFilter {
                status_at: Some((LicenseStatus::Expired, T0)),
                ..LicenseFilter::default()
            },
            &PageRequest {
                after: None,
                limit: 50,
            },
        )
        .await
        .expect("rows");
    let expired: Vec<&str> = rows.items.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        expired,
        ["lic_00", "lic_02"],
        "the rows carry the new expiries"
    );
}

/// Twenty concurrent attempts, split between the two handles/// Twenty concurrent attempts, split between the two handles, spend each once-only id exactly
/// once: WemX transactions, download grants, LicenseCM challenges and envelopes.
pub async fn once_only_ids_are_spent_once_across_handles(f: Fixture) {
    // The attempts run concurrently, on the test runtime's worker threads.
    async fn concurrently<Fut>(futs: Vec<Fut>) -> usize
    where
        Fut: Future<Output = Result<bool, StoreError>> + Send + 'static,
    {
        all_at_once(futs)
            .await
            .into_iter()
            .filter(|won| *won.as_ref().expect("attempt"))
            .count()
    }
    let stores = |n| alternate(&f, n);
    let wins = concurrently(
        stores(20)
            .into_iter()
            .map(|s| async move { s.claim_transaction("tx-1", "lic_1").await })
            .collect(),
    )
    .await;
    assert_eq!(wins, 1, "transaction_id");
    assert!(f.b.transaction_seen("tx-1").await.expect("seen"));
    assert!(!f.b.transaction_seen("tx-2").await.expect("seen"));

    let grant = DownloadGrant {
        download_id: 1,
        license_id: "lic_1".into(),
        expires_at: T0 + 60,
        used_at: None,
    };
    f.a.put_grant(&[7; 16], &grant).await.expect("grant");
    let wins = concurrently(
        stores(20)
            .into_iter()
            .map(|s| async move { s.use_grant(&[7; 16], T0).await })
            .collect(),
    )
    .await;
    assert_eq!(wins, 1, "download grant");
    assert!(
        !f.a.use_grant(&[8; 16], T0).await.expect("unknown"),
        "unknown grant"
    );

    let wins = concurrently(
        stores(20)
            .into_iter()
            .map(|s| async move { s.spend_challenge(b"nonce-1", T0 + 60, T0).await })
            .collect(),
    )
    .await;
    assert_eq!(wins, 1, "challenge");
    let wins = concurrently(
        stores(20)
            .into_iter()
            .map(|s| async move { s.accept_envelope("mac-1", T0 * 1000, 0).await })
            .collect(),
    )
    .await;
    assert_eq!(wins, 1, "envelope");
    assert!(
        f.b.accept_envelope("mac-2", T0 * 1000, 0)
            .await
            .expect("other")
    );
}

/// A revocation stores the license's status, the next state and its signed list together:
/// with a signer that fails, nothing changes; with one that works, all three change.
pub async fn a_revocation_is_stored_with_its_list_or_not_at_all(f: Fixture) {
    f.a.insert_product(&product("acme", 1, "Acme"))
        .await
        .expect("product");
    let active = license("lic_1", "prd_acme", "active", None);
    f.a.insert_license(&active, Record::none())
        .await
        .expect("license");
    let mut revoked = active.clone();
    revoked.status = crate::model::LicenseStatus::Revoked;
    let before = f.a.revocation_state().await.expect("state");
    let failed =
        f.b.revoke_license(
            &revoked,
            &["t1".into()],
            &|_| Err(StoreError::backend("signer down")),
            &|_| Record::from(entry("license.revoked", "lic_1")),
        )
        .await;
    assert!(failed.is_err());
    assert_eq!(f.a.revocation_state().await.expect("state"), before);
    assert_eq!(
        f.a.license(&LicenseId::from("lic_1")).await.expect("read"),
        Some(active)
    );
    assert_eq!(f.a.revocation_list().await.expect("list"), None);

    let sign = |st: &RevocationState| Ok(format!("list {}", st.sequence).into_bytes());
    let state =
        f.b.revoke_license(&revoked, &["t1".into(), String::new()], &sign, &|st| {
            let mut e = entry("license.revoked", "lic_1");
            e.detail = json!({ "sequence": st.sequence });
            Record::from(e)
        })
        .await
        .expect("revoke");
    let (told, n) = f.a.audit_of("lic_1", 0, 10).await.expect("audit");
    assert_eq!(
        n, 1,
        "the failed revocation recorded nothing, this one its entry"
    );
    assert_eq!(told[0].detail["sequence"], json!(state.sequence));
    assert_eq!(state.sequence, before.sequence + 1);
    assert!(state.license_ids.contains("lic_1"));
    assert_eq!(
        state.token_ids.iter().collect::<Vec<_>>(),
        ["t1"],
        "empty ids are not listed"
    );
    assert_eq!(f.a.revocation_state().await.expect("state"), state);
    assert_eq!(
        f.a.revocation_list().await.expect("list"),
        Some(format!("list {}", state.sequence).into_bytes())
    );
    assert_eq!(
        f.a.license(&LicenseId::from("lic_1"))
            .await
            .expect("read")
            .map(|l| l.status),
        Some(crate::model::LicenseStatus::Revoked)
    );
}

/// A license's machine count is the number of its machines: a replaced machine is not counted
/// twice, a removed one is no longer counted, and removing it again says so.
pub async fn machine_counts_follow_the_machines(f: Fixture) {
    for fp in ["fp-a", "fp-b", "fp-c"] {
        f.a.put_machine(&machine("lic_1", fp)).await.expect("put");
    }
    let mut again = machine("lic_1", "fp-a");
    again.hostname = Some("renamed".into());
    f.b.put_machine(&again).await.expect("replace");
    f.a.put_machine(&machine("lic_2", "fp-a"))
        .await
        .expect("other license");
    assert_eq!(f.b.machine_count("lic_1").await.expect("count"), 3);
    assert_eq!(
        f.a.machine("lic_1", "fp-a")
            .await
            .expect("read")
            .and_then(|m| m.hostname),
        Some("renamed".into())
    );
    let b = machine("lic_1", "fp-b");
    assert!(f.a.remove_machine(&b).await.expect("remove"));
    assert!(!f.b.remove_machine(&b).await.expect("again"));
    assert_eq!(f.a.machine_count("lic_1").await.expect("count"), 2);
    assert_eq!(f.a.machine_total().await.expect("total"), 3);
    assert_eq!(
        f.b.machine_by_id(&b.id).await.expect("by id"),
        None,
        "the id index goes with the machine"
    );
    let mut fps: Vec<String> =
        f.b.machines(&LicenseId::from("lic_1"))
            .await
            .expect("list")
            .into_iter()
            .map(|m| m.fingerprint)
            .collect();
    fps.sort();
    assert_eq!(fps, ["fp-a", "fp-c"]);
}

/// Deliveries get increasing ids from either handle, read back oldest first, and leave the
/// queue when removed.
pub async fn the_outbox_hands_out_increasing_ids(f: Fixture) {
    let delivery = |n: u32| Delivery {
        id: 0,
        webhook_id: "wh_1".into(),
        event: "license.created".into(),
        body: format!("{{\"n\":{n}}}"),
        attempts: 0,
        next_attempt_at: T0,
        ..Delivery::default()
    };
    let mut first = [delivery(1), delivery(2)];
    f.a.enqueue(&mut first).await.expect("enqueue");
    let mut second = [delivery(3)];
    f.b.enqueue(&mut second).await.expect("enqueue");
    assert!(first[0].id < first[1].id && first[1].id < second[0].id);
    let queued = f.a.deliveries().await.expect("queue");
    assert_eq!(
        queued.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
        [r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#]
    );
    let mut retried = queued[0].clone();
    retried.attempts = 1;
    retried.last_error = Some("timeout".into());
    f.b.update_delivery(&retried).await.expect("update");
    assert_eq!(
        f.a.delivery(retried.id).await.expect("read"),
        Some(retried.clone())
    );
    f.a.remove_delivery(retried.id).await.expect("remove");
    assert_eq!(f.b.delivery(retried.id).await.expect("read"), None);
    assert_eq!(f.b.deliveries().await.expect("queue").len(), 2);
}

/// Audit entries get increasing sequence numbers; filters and the cursor see each once.
pub async fn audit_filters_and_cursors(f: Fixture) {
    let entry = |n: i64, action: &str, product: Option<&str>| AuditEvent {
        seq: 0,
        at: T0 + n,
        actor: if n % 2 == 0 { "key:a" } else { "key:b" }.into(),
        action: action.into(),
        subject: format!("lic_{}", n % 3),
        ip: None,
        detail: json!({ "n": n }),
        product_id: product.map(str::to_owned).map(Into::into),
    };
    let mut seqs = Vec::new();
    for n in 0..9 {
        let action = if n < 5 {
            "license.created"
        } else {
            "machine.activated"
        };
        let product = (n % 2 == 0).then_some("prd_acme");
        let store = if n % 2 == 0 { &f.a } else { &f.b };
        seqs.push(
            store
                .append_audit(entry(n, action, product))
                .await
                .expect("append"),
        );
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let read = |filter: AuditFilter| {
        let store = f.a.clone();
        async move {
            let mut out = Vec::new();
            let mut page = PageRequest {
                after: None,
                limit: 2,
            };
            loop {
                let got = store.audit(&filter, &page).await.expect("page");
                out.extend(
                    got.items
                        .iter()
                        .map(|e| e.detail["n"].as_i64().unwrap_or(-1)),
                );
                match got.next {
                    Some(n) => page.after = Some(n),
                    None => return out,
                }
            }
        }
    };
    assert_eq!(
        read(AuditFilter::default()).await,
        [0, 1, 2, 3, 4, 5, 6, 7, 8]
    );
    let prefix = AuditFilter {
        action: Some("machine.".into()),
        ..AuditFilter::default()
    };
    assert_eq!(read(prefix).await, [5, 6, 7, 8]);
    let exact_only = AuditFilter {
        action: Some("machine".into()),
        ..AuditFilter::default()
    };
    assert!(read(exact_only).await.is_empty(), "a prefix ends in a dot");
    let product = AuditFilter {
        product_id: Some("prd_acme".into()),
        since: Some(T0 + 2),
        until: Some(T0 + 8),
        ..AuditFilter::default()
    };
    assert_eq!(read(product).await, [2, 4, 6]);
    // About a license: the license, and what names it (a machine's entry).
    let mut about = entry(9, "machine.deactivated", None);
    about.subject = "mch_x".into();
    about.detail = json!({ "n": 9, "license_id": "lic_1" });
    f.b.append_audit(about).await.expect("append");
    let license = AuditFilter {
        license: Some("lic_1".into()),
        ..AuditFilter::default()
    };
    assert_eq!(read(license).await, [1, 4, 7, 9]);
    // Newest first, a page at a time, with the same filters.
    let newest = AuditFilter {
        newest_first: true,
        ..AuditFilter::default()
    };
    assert_eq!(read(newest).await, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    let newest_of_license = AuditFilter {
        license: Some("lic_1".into()),
        newest_first: true,
        ..AuditFilter::default()
    };
    assert_eq!(read(newest_of_license).await, [9, 7, 4, 1]);
    let (by_subject, total) = f.b.audit_of("lic_1", 0, 2).await.expect("subject");
    assert_eq!(total, 3);
    assert_eq!(
        by_subject
            .iter()
            .map(|e| e.detail["n"].as_i64().unwrap_or(-1))
            .collect::<Vec<_>>(),
        [7, 4],
        "newest first"
    );
}

/// Stores license `id` of product `prd_p` (seats are taken only on a stored license).
async fn stored_license(f: &Fixture, id: &str) -> License {
    let l = license(id, "prd_p", "active", None);
    f.a.insert_license(&l, Record::none())
        .await
        .expect("license");
    l
}

fn entry(action: &str, subject: &str) -> AuditEvent {
    AuditEvent {
        seq: 0,
        at: T0,
        actor: "server".into(),
        action: action.into(),
        subject: subject.into(),
        ip: None,
        detail: json!({}),
        product_id: None,
    }
}

/// Runs the futures at once on the runtime's worker threads; their results in order.
async fn all_at_once<T, Fut>(futs: Vec<Fut>) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

/// The handles in turn, `n` times.
fn alternate(f: &Fixture, n: usize) -> Vec<Arc<dyn Store>> {
    (0..n)
        .map(|i| if i % 2 == 0 { f.a.clone() } else { f.b.clone() })
        .collect()
}

fn claim(license_id: &str, fingerprint: &str) -> SeatClaim {
    SeatClaim {
        license_id: license_id.into(),
        fingerprint: fingerprint.into(),
        parts: Vec::new(),
    }
}

/// A seat error, whether the closure declined (with a store error of its own) or the
/// operation failed.
fn seat_error(h: Halted<StoreError, SeatError>) -> SeatError {
    match h {
        Halted::Declined(e) => SeatError::Store(e),
        Halted::Failed(e) => e,
    }
}

/// A test's seat closure: the machine and its record, or a store error.
type Make<'a> =
    &'a (dyn for<'s> Fn(Seat<'s>) -> Result<(Machine, Record), StoreError> + Send + Sync);

/// A test's seat change: what to do and its record, or a store error.
type Decide<'a> = &'a (
        dyn for<'s> Fn(Option<&'s Recognised>) -> Result<(SeatChange, Record), StoreError>
            + Send
            + Sync
    );

/// One seat taken through the typed method, its closure making nothing besides the machine.
async fn take(
    s: &Arc<dyn Store>,
    c: &SeatClaim,
    rule: &SeatRule,
    now: i64,
    make: Make<'_>,
) -> Result<Seated, SeatError> {
    s.take_seat_with(c, rule, now, &|seat| make(seat).map(|(m, r)| (m, r, ())))
        .await
        .map(|(seat, ())| seat)
        .map_err(seat_error)
}

/// One seat changed through the typed method; the machine as it was.
async fn change(
    s: &Arc<dyn Store>,
    c: &SeatClaim,
    decide: Decide<'_>,
) -> Result<Option<Recognised>, SeatError> {
    s.change_seat_with(c, &|found| decide(found).map(|(what, r)| (what, r, ())))
        .await
        .map(|(found, ())| found)
        .map_err(seat_error)
}

/// Thirty-two activations of one license with three seats, each a different machine, raced
/// across both handles: exactly three take a seat, the rest are refused, and the license has
/// three machines. The same machine again keeps its seat.
pub async fn concurrent_activations_never_exceed_the_seats(f: Fixture) {
    stored_license(&f, "lic_1").await;
    let rule = SeatRule {
        max: 3,
        floating: false,
        heartbeat_ttl: 60,
        bound_to_first: false,
    };
    let mut tasks = Vec::new();
    // Every claim first reads the license (a backend on a database opens its pooled
    // connections there), then all wait for each other, so that the seat operations really run
    // at once rather than one after another as connections come up.
    let start = Arc::new(tokio::sync::Barrier::new(32));
    for i in 0..32 {
        let store = if i % 2 == 0 { f.a.clone() } else { f.b.clone() };
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            let c = claim("lic_1", &format!("fp-{i}"));
            store
                .license(&LicenseId::from("lic_1"))
                .await
                .expect("read the license");
            start.wait().await;
            take(&store, &c, &rule, T0, &|seat| {
                let Seat::New { number } = seat else {
                    panic!("a machine new to the license is given a number");
                };
                let mut m = machine("lic_1", &format!("fp-{i}"));
                m.numeric_id = number;
                Ok((m, Record::none()))
            })
            .await
        }));
    }
    let (mut seated, mut refused) = (0, 0);
    let mut numbers = std::collections::BTreeSet::new();
    for t in tasks {
        match t.await.expect("task") {
            Ok(s) => {
                assert!(s.fresh);
                numbers.insert(s.machine.numeric_id);
                seated += 1;
            }
            Err(SeatError::Refused(SeatRefusal::TooManyMachines { max: 3 })) => refused += 1,
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    assert_eq!((seated, refused), (3, 29));
    // The numbers were drawn inside the operations, raced across handles: never one twice, and
    // a number drawn outside a seat operation comes after them.
    assert_eq!(numbers.len(), 3, "{numbers:?}");
    let next = f.b.next_number("machine").await.expect("number");
    assert!(numbers.iter().all(|n| *n < next), "{numbers:?} then {next}");
    assert_eq!(f.a.machine_count("lic_1").await.expect("count"), 3);
    assert_eq!(
        f.b.machines(&LicenseId::from("lic_1"))
            .await
            .expect("list")
            .len(),
        3
    );
    let one = f.a.machines(&LicenseId::from("lic_1")).await.expect("list")[0]
        .fingerprint
        .clone();
    let again = take(&f.b, &claim("lic_1", &one), &rule, T0, &|seat| {
        Ok((seat.found().expect("known").machine.clone(), Record::none()))
    })
    .await
    .expect("a known machine keeps its seat");
    assert!(!again.fresh);
    assert_eq!(f.a.machine_count("lic_1").await.expect("count"), 3);
}

/// On a full floating license a new machine takes the seat of a dead one, which is removed in
/// the same operation as the new machine and its audit entry are written; a refusal writes
/// nothing (`make` is not even asked).
pub async fn a_seat_taken_reaps_the_dead_and_writes_its_audit_entries(f: Fixture) {
    stored_license(&f, "lic_1").await;
    let rule = SeatRule {
        max: 2,
        floating: true,
        heartbeat_ttl: 60,
        bound_to_first: false,
    };
    let mut dead = machine("lic_1", "dead");
    dead.last_heartbeat = T0 - 61;
    f.a.put_machine(&dead).await.expect("dead");
    f.a.put_machine(&machine("lic_1", "alive"))
        .await
        .expect("alive");
    let entry = |what: &str| AuditEvent {
        seq: 0,
        at: T0,
        actor: "license:lic_1".into(),
        action: "machine.activated".into(),
        subject: format!("mch_{what}"),
        ip: None,
        detail: json!({}),
        product_id: None,
    };
    let seated = take(&f.b, &claim("lic_1", "new"), &rule, T0, &|seat| {
        assert!(seat.found().is_none());
        Ok((machine("lic_1", "new"), Record::from(entry("new"))))
    })
    .await
    .expect("a dead seat is given back");
    assert_eq!(
        seated
            .reaped
            .iter()
            .map(|m| m.fingerprint.as_str())
            .collect::<Vec<_>>(),
        ["dead"]
    );
    let mut fps: Vec<String> =
        f.a.machines(&LicenseId::from("lic_1"))
            .await
            .expect("list")
            .into_iter()
            .map(|m| m.fingerprint)
            .collect();
    fps.sort();
    assert_eq!(fps, ["alive", "new"]);
    assert_eq!(f.a.audit_of("mch_new", 0, 10).await.expect("audit").1, 1);
    // Full of live machines: refused, and nothing is built or written.
    let refused = take(&f.a, &claim("lic_1", "other"), &rule, T0, &|_| {
        panic!("make is not called for a refused claim")
    })
    .await;
    assert!(
        matches!(
            refused,
            Err(SeatError::Refused(SeatRefusal::TooManyMachines { max: 2 }))
        ),
        "{refused:?}"
    );
    // An error from `make` writes nothing either.
    let mut rule_3 = rule;
    rule_3.max = 3;
    let failed = take(&f.b, &claim("lic_1", "other"), &rule_3, T0, &|_| {
        Err(StoreError::backend("signer down"))
    })
    .await;
    assert!(failed.is_err());
    assert_eq!(f.b.machine_count("lic_1").await.expect("count"), 2);
    // A license bound to its first machine takes no second one.
    let bound = SeatRule {
        max: 5,
        bound_to_first: true,
        ..rule
    };
    let second = take(&f.a, &claim("lic_1", "other"), &bound, T0, &|_| {
        Ok((machine("lic_1", "other"), Record::none()))
    })
    .await;
    assert!(
        matches!(second, Err(SeatError::Refused(SeatRefusal::BoundToAnother))),
        "{second:?}"
    );
}

/// A caller's own reason to decline, as the typed store methods hand it back.
#[derive(Debug, PartialEq)]
enum Reason {
    Mine(u32),
}

/// A closure that declines writes nothing and its caller gets its reason back, as given: a
/// seat operation over several claims declined by its second claim (after the first was
/// built), a seat change, a license change. What a closure makes beside the machine comes back
/// with each seat, by claim.
pub async fn a_declined_operation_writes_nothing_and_hands_back_its_reason(f: Fixture) {
    stored_license(&f, "lic_1").await;
    let rule = SeatRule {
        max: 5,
        floating: false,
        heartbeat_ttl: 60,
        bound_to_first: false,
    };
    let claims = [claim("lic_1", "fp-0"), claim("lic_1", "fp-1")];
    let made = std::sync::atomic::AtomicUsize::new(0);
    let declined =
        f.a.take_seats_with(&claims, &rule, T0, &|i, _| {
            made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if i == 1 {
                return Err(Reason::Mine(7));
            }
            Ok((
                machine("lic_1", "fp-0"),
                Record::from(entry("machine.activated", "declined")),
                "made",
            ))
        })
        .await;
    assert!(
        matches!(declined, Err(Halted::Declined(Reason::Mine(7)))),
        "{declined:?}"
    );
    assert_eq!(
        made.into_inner(),
        2,
        "both claims were built before the decline"
    );
    assert_eq!(f.b.machine_count("lic_1").await.expect("count"), 0);
    assert!(
        f.b.machines(&LicenseId::from("lic_1"))
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(f.b.audit_of("declined", 0, 10).await.expect("audit").1, 0);

    // Taken: each seat with what its claim's closure made.
    let seated =
        f.b.take_seats_with(&claims, &rule, T0, &|i, _| {
            Ok::<_, Reason>((machine("lic_1", &format!("fp-{i}")), Record::none(), i * 10))
        })
        .await
        .expect("two seats");
    let got: Vec<(String, usize)> = seated
        .into_iter()
        .map(|(s, made)| (s.machine.fingerprint, made))
        .collect();
    assert_eq!(got, [("fp-0".to_owned(), 0), ("fp-1".to_owned(), 10)]);

    // A seat change declined: the machine stays as it was, no entry is written.
    let before =
        f.a.machine("lic_1", "fp-0")
            .await
            .expect("read")
            .expect("kept");
    let declined =
        f.a.change_seat_with(&claim("lic_1", "fp-0"), &|found| {
            let found = found.expect("the machine");
            if found.machine.fingerprint == "fp-0" {
                return Err(Reason::Mine(8));
            }
            Ok((
                SeatChange::Remove,
                Record::from(entry("machine.removed", "declined")),
                (),
            ))
        })
        .await;
    assert!(
        matches!(declined, Err(Halted::Declined(Reason::Mine(8)))),
        "{declined:?}"
    );
    assert_eq!(
        f.b.machine("lic_1", "fp-0").await.expect("read"),
        Some(before)
    );
    assert_eq!(f.b.audit_of("declined", 0, 10).await.expect("audit").1, 0);
    let (found, carried) =
        f.b.change_seat_with(&claim("lic_1", "fp-1"), &|found| {
            let m = found.expect("the machine").machine.clone();
            Ok::<_, Reason>((SeatChange::Keep, Record::none(), m.id))
        })
        .await
        .expect("kept");
    assert_eq!(found.map(|r| r.machine.id), Some(carried));

    // A license change declined: the license stays as it was.
    let license_before =
        f.a.license(&LicenseId::from("lic_1"))
            .await
            .expect("read")
            .expect("stored");
    let declined =
        f.b.change_license_with("lic_1", &|l| {
            if l.status == crate::model::LicenseStatus::Active {
                return Err(Reason::Mine(9));
            }
            let mut next = l.clone();
            next.status = crate::model::LicenseStatus::Suspended;
            Ok(Some((
                next,
                Record::from(entry("license.suspended", "declined")),
            )))
        })
        .await;
    assert!(
        matches!(declined, Err(Halted::Declined(Reason::Mine(9)))),
        "{declined:?}"
    );
    assert_eq!(
        f.a.license(&LicenseId::from("lic_1")).await.expect("read"),
        Some(license_before)
    );
    assert_eq!(f.b.audit_of("declined", 0, 10).await.expect("audit").1, 0);
}

/// A seat change judges the machine as stored when it runs. Sixteen heartbeats and culls of
/// one dead floating machine, raced across both handles: the first removes it and writes its
/// one audit entry, and every later one finds no machine. Then sixteen heartbeats of a live
/// machine, each renewing what it finds: none is lost.
pub async fn heartbeats_and_culls_change_a_seat_one_at_a_time(f: Fixture) {
    stored_license(&f, "lic_1").await;
    let rule = SeatRule {
        max: 5,
        floating: true,
        heartbeat_ttl: 60,
        bound_to_first: false,
    };
    let mut dead = machine("lic_1", "fp");
    dead.last_heartbeat = T0 - 61;
    f.a.put_machine(&dead).await.expect("dead");
    let found = all_at_once(
        alternate(&f, 16)
            .into_iter()
            .map(|s| async move {
                change(&s, &claim("lic_1", "fp"), &|found| match found {
                    Some(r) if !rule.alive(&r.machine, T0) => Ok((
                        SeatChange::Remove,
                        Record::from(entry("machine.culled", &r.machine.id)),
                    )),
                    Some(r) => Ok((
                        SeatChange::Update(Box::new(r.machine.clone())),
                        Record::none(),
                    )),
                    None => Ok((SeatChange::Keep, Record::none())),
                })
                .await
                .expect("change")
            })
            .collect(),
    )
    .await;
    assert_eq!(
        found.iter().filter(|f| f.is_some()).count(),
        1,
        "one saw it"
    );
    assert_eq!(f.b.machine_count("lic_1").await.expect("count"), 0);
    assert_eq!(
        f.a.audit_of(&dead.id, 0, 10).await.expect("audit").1,
        1,
        "culled once"
    );

    f.b.put_machine(&machine("lic_1", "live"))
        .await
        .expect("live");
    all_at_once(
        alternate(&f, 16)
            .into_iter()
            .map(|s| async move {
                change(&s, &claim("lic_1", "live"), &|found| {
                    let mut m = found.expect("live").machine.clone();
                    m.last_heartbeat += 1;
                    Ok((SeatChange::Update(Box::new(m)), Record::none()))
                })
                .await
                .expect("heartbeat")
            })
            .collect(),
    )
    .await;
    let m =
        f.a.machine("lic_1", "live")
            .await
            .expect("read")
            .expect("kept");
    assert_eq!(m.last_heartbeat, T0 + 16, "no heartbeat was lost");
}

/// A seat change names its machine by fingerprint or, under the hardware-parts rule, by its
/// parts; it may update or remove only that machine, and a refused change writes nothing.
/// Clearing a license's seats removes them all with its audit entries.
pub async fn a_seat_change_touches_only_the_machine_it_names(f: Fixture) {
    stored_license(&f, "lic_1").await;
    let parts: Vec<[u8; 8]> = (1..=4u8).map(|i| [i; 8]).collect();
    let mut a = machine("lic_1", "fp-a");
    a.parts = parts.iter().map(crate::seats::part_hex).collect();
    f.a.put_machine(&a).await.expect("a");
    f.a.put_machine(&machine("lic_1", "fp-b")).await.expect("b");
    // A new fingerprint with the same parts is machine A.
    let by_parts = SeatClaim {
        parts: parts.clone(),
        ..claim("lic_1", "fp-a-new")
    };
    let seen = change(&f.b, &by_parts, &|_| Ok((SeatChange::Keep, Record::none())))
        .await
        .expect("keep");
    assert_eq!(seen.map(|r| r.machine.id), Some(a.id.clone()));
    // Another machine in its place is refused, and nothing is written.
    let other = change(&f.b, &claim("lic_1", "fp-a"), &|_| {
        Ok((
            SeatChange::Update(Box::new(machine("lic_1", "fp-b"))),
            Record::from(entry("machine.renewed", "x")),
        ))
    })
    .await;
    assert!(other.is_err(), "an update of another machine: {other:?}");
    let refused = change(&f.a, &claim("lic_1", "nobody"), &|found| {
        assert!(found.is_none());
        Ok((
            SeatChange::Remove,
            Record::from(entry("machine.removed", "x")),
        ))
    })
    .await;
    assert!(refused.is_err(), "a removal of no machine: {refused:?}");
    let failed = change(&f.a, &claim("lic_1", "fp-b"), &|_| {
        Err(StoreError::backend("signer down"))
    })
    .await;
    assert!(failed.is_err());
    assert_eq!(f.a.machine_count("lic_1").await.expect("count"), 2);
    assert_eq!(f.a.audit_of("x", 0, 10).await.expect("audit").1, 0);
    // Removed by parts, under its recorded fingerprint.
    change(&f.a, &by_parts, &|_| {
        Ok((
            SeatChange::Remove,
            Record::from(entry("machine.deactivated", "x")),
        ))
    })
    .await
    .expect("remove");
    assert!(f.b.machine("lic_1", "fp-a").await.expect("read").is_none());
    assert_eq!(f.b.audit_of("x", 0, 10).await.expect("audit").1, 1);
    f.b.put_machine(&machine("lic_1", "fp-c")).await.expect("c");
    let cleared =
        f.a.clear_seats("lic_1", Record::from(entry("license.hwid_reset", "lic_1")))
            .await
            .expect("clear");
    assert_eq!(cleared.len(), 2);
    assert_eq!(f.b.machine_count("lic_1").await.expect("count"), 0);
    assert!(
        f.b.machines(&LicenseId::from("lic_1"))
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(f.b.audit_of("lic_1", 0, 10).await.expect("audit").1, 1);
}

/// Twenty changes of one license raced across both handles, each building on what it finds:
/// none is lost. The same holds through an order's update. A change may not touch the id or
/// key, and a change of no license finds nothing.
pub async fn concurrent_license_changes_are_never_lost(f: Fixture) {
    stored_license(&f, "lic_1").await;
    let bump = |l: &License| {
        let mut next = l.clone();
        next.updated_at += 1;
        Ok(Some((next, Record::none())))
    };
    all_at_once(
        alternate(&f, 20)
            .into_iter()
            .map(|s| async move { s.change_license("lic_1", &bump).await.expect("change") })
            .collect(),
    )
    .await;
    let l =
        f.b.license(&LicenseId::from("lic_1"))
            .await
            .expect("read")
            .expect("stored");
    assert_eq!(l.updated_at, T0 + 20, "no change was lost");
    let order = Order {
        id: 1,
        customer_id: 1,
        product_id: "prd_p".into(),
        price_id: 1,
        license_id: "lic_1".into(),
        due_date: Some(T0 + 99),
        created_at: T0,
        updated_at: T0,
    };
    all_at_once(
        alternate(&f, 10)
            .into_iter()
            .map(|s| {
                let order = order.clone();
                async move { s.update_order(&order, &bump).await.expect("order") }
            })
            .collect(),
    )
    .await;
    let l =
        f.a.license(&LicenseId::from("lic_1"))
            .await
            .expect("read")
            .expect("stored");
    assert_eq!(l.updated_at, T0 + 30, "no change through an order was lost");
    assert_eq!(
        f.b.order(1).await.expect("read").and_then(|o| o.due_date),
        Some(T0 + 99)
    );
    let rekey =
        f.a.change_license("lic_1", &|l| {
            let mut next = l.clone();
            next.key = "OTHER".into();
            Ok(Some((next, Record::none())))
        })
        .await;
    assert!(rekey.is_err(), "a key does not change: {rekey:?}");
    assert!(f.b.license_by_key("OTHER").await.expect("read").is_none());
    let left =
        f.b.change_license("lic_1", &|_| Ok(None))
            .await
            .expect("leave");
    assert_eq!(left.map(|l| l.updated_at), Some(T0 + 30));
    assert_eq!(
        f.a.change_license("lic_none", &bump).await.expect("none"),
        None
    );
}

/// Seats taken while the license is deleted through the other handle never outlive it: once
/// the deletion and the activations are done, the license has no machines, and a seat asked
/// for afterwards is refused as not found.
pub async fn no_seat_is_taken_on_a_deleted_license(f: Fixture) {
    let l = stored_license(&f, "lic_1").await;
    let rule = SeatRule {
        max: 64,
        floating: false,
        heartbeat_ttl: 60,
        bound_to_first: false,
    };
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = f.a.clone();
        tasks.push(tokio::spawn(async move {
            let fp = format!("fp-{i}");
            take(&store, &claim("lic_1", &fp), &rule, T0, &|_| {
                Ok((machine("lic_1", &fp), Record::none()))
            })
            .await
            .map(|_| ())
        }));
        if i == 8 {
            f.b.delete_license(&l, Record::none())
                .await
                .expect("delete");
        }
    }
    for t in tasks {
        match t.await.expect("task") {
            Ok(()) | Err(SeatError::Store(StoreError::NotFound)) => {}
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    assert!(
        f.a.machines(&LicenseId::from("lic_1"))
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(f.b.machine_count("lic_1").await.expect("count"), 0);
    let late = take(&f.a, &claim("lic_1", "late"), &rule, T0, &|_| {
        Ok((machine("lic_1", "late"), Record::none()))
    })
    .await;
    assert!(
        matches!(late, Err(SeatError::Store(StoreError::NotFound))),
        "{late:?}"
    );
}

/// Twenty rotations of one session token raced across both handles, each expecting the token
/// it read: exactly one is stored, and only its token leads to the session.
pub async fn a_session_token_rotates_once(f: Fixture) {
    let session = Session {
        id: "ses_1".into(),
        token_hash: "h0".into(),
        previous_hash: None,
        previous_until: 0,
        license_id: "lic_1".into(),
        hwid: "hw".into(),
        ip: None,
        created_at: T0,
        last_heartbeat: T0,
        expires_at: T0 + 60,
        ended_at: None,
        end_reason: None,
    };
    f.a.put_session(&session, &["h0"]).await.expect("session");
    let won = all_at_once(
        alternate(&f, 20)
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let mut next = session.clone();
                next.token_hash = format!("h-{i}");
                async move {
                    let h = next.token_hash.clone();
                    let stored = s
                        .rotate_session(&next, "h0", &[&h], &["h0".to_owned()])
                        .await
                        .expect("rotate");
                    stored.then_some(h)
                }
            })
            .collect(),
    )
    .await;
    let winners: Vec<String> = won.into_iter().flatten().collect();
    assert_eq!(winners.len(), 1, "{winners:?}");
    let stored = f.b.session("ses_1").await.expect("read").expect("kept");
    assert_eq!(stored.token_hash, winners[0]);
    assert!(f.a.session_by_token("h0").await.expect("read").is_none());
    assert!(
        f.a.session_by_token(&winners[0])
            .await
            .expect("read")
            .is_some()
    );
}

/// What a change records (its audit entries and its deliveries) is written with it: a change
/// that fails queues nothing, one that succeeds queues its deliveries, whichever operation
/// made it. A settled delivery leaves the queue for its webhook's log, which keeps the newest
/// [`DELIVERY_LOG`](crate::store::DELIVERY_LOG), newest first, and goes with its webhook.
pub async fn a_change_is_written_with_its_record_and_deliveries_settle_into_a_log(f: Fixture) {
    let told = |what: &str| Record {
        audit: vec![entry(what, "lic_1")],
        deliveries: vec![Delivery {
            webhook_id: "wh_1".into(),
            event: what.into(),
            body: format!("{{\"event\":\"{what}\"}}"),
            next_attempt_at: T0,
            created_at: T0,
            ..Delivery::default()
        }],
    };
    let l = license("lic_1", "prd_p", "active", None);
    f.a.insert_license(&l, told("license.created"))
        .await
        .expect("insert");
    let failed =
        f.b.change_license("lic_1", &|_| Err(StoreError::backend("signer down")))
            .await;
    assert!(failed.is_err());
    f.b.change_license("lic_1", &|l| {
        let mut next = l.clone();
        next.status = crate::model::LicenseStatus::Suspended;
        Ok(Some((next, told("license.suspended"))))
    })
    .await
    .expect("suspend");
    let e =
        f.a.append_security_event(
            SecurityEvent {
                seq: 0,
                event_type: "tamper_detected".into(),
                severity: Severity::High,
                license_id: Some("lic_1".into()),
                product_id: Some("prd_p".into()),
                ip_address: None,
                hwid: None,
                is_blocked: true,
                details: json!({}),
                created_at: T0,
            },
            &|e| {
                assert!(e.seq > 0, "told once it has its number");
                told("security.alert")
            },
        )
        .await
        .expect("security event");
    assert!(e.seq > 0);
    f.b.delete_license(&l, told("license.deleted"))
        .await
        .expect("delete");
    let queued: Vec<String> =
        f.a.deliveries()
            .await
            .expect("queue")
            .into_iter()
            .map(|d| d.event)
            .collect();
    assert_eq!(
        queued,
        [
            "license.created",
            "license.suspended",
            "security.alert",
            "license.deleted"
        ]
    );
    assert_eq!(f.b.audit_of("lic_1", 0, 10).await.expect("audit").1, 4);
    // Settled: out of the queue, into the log, newest first.
    let mut first = f.a.deliveries().await.expect("queue")[0].clone();
    first.state = DeliveryState::Delivered;
    first.settled_at = Some(T0 + 1);
    first.last_status = Some(204);
    f.b.settle_delivery(&first).await.expect("settle");
    assert!(f.a.delivery(first.id).await.expect("read").is_none());
    let of = f.a.deliveries_of("wh_1", 10).await.expect("of");
    assert_eq!(of.len(), 4);
    assert!(of.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let settled = of.iter().find(|d| d.id == first.id).expect("logged");
    assert_eq!(settled.state, DeliveryState::Delivered);
    assert_eq!(settled.last_status, Some(204));
    assert_eq!(f.b.deliveries_of("wh_1", 2).await.expect("of").len(), 2);
    // The log keeps the newest of each webhook.
    let cap = crate::store::DELIVERY_LOG;
    let mut many: Vec<Delivery> = (0..cap + 5)
        .map(|i| Delivery {
            webhook_id: "wh_2".into(),
            event: "license.created".into(),
            body: i.to_string(),
            ..Delivery::default()
        })
        .collect();
    f.a.enqueue(&mut many).await.expect("enqueue");
    for d in &many {
        let mut d = d.clone();
        d.state = DeliveryState::Failed;
        f.b.settle_delivery(&d).await.expect("settle");
    }
    let kept = f.a.deliveries_of("wh_2", 1000).await.expect("of");
    assert_eq!(kept.len(), cap);
    assert_eq!(kept[0].id, many[cap + 4].id, "the newest is kept");
    f.a.put_webhook(&crate::model::Webhook {
        id: "wh_2".into(),
        owner_id: "u".into(),
        url: "https://example.com/hook".into(),
        events: vec!["license.created".into()],
        sealed_secret: String::new(),
        is_active: true,
        created_at: T0,
        api: true,
        product_id: None,
    })
    .await
    .expect("webhook");
    assert!(f.b.delete_webhook("wh_2").await.expect("delete"));
    assert!(
        f.a.deliveries_of("wh_2", 1000)
            .await
            .expect("of")
            .is_empty()
    );
}

/// The core's validation ([`crate::rules::validate`]) reads what a backend stores: each verdict
/// in its place in the order, the first failing check deciding (a blacklisted key is refused
/// as blacklisted even though its license is also suspended).
pub async fn a_validation_follows_the_documented_order(f: Fixture) {
    use crate::rules::{Ask, Probe, Refusal, Verdict, validate};
    f.a.insert_product(&product("acme", 1, "Acme"))
        .await
        .expect("product");
    let mut pol = policy("prd_acme");
    pol.entitlements = vec!["pro".into()];
    f.a.put_policy(&pol).await.expect("policy");
    let l = license("lic_1", "prd_acme", "active", None);
    f.a.insert_license(&l, Record::none())
        .await
        .expect("license");
    f.a.put_machine(&machine("lic_1", "fp"))
        .await
        .expect("machine");
    let everyone = |_: &License| true;
    let verdict = |ask: Ask<'static>| {
        let store = f.b.clone();
        async move {
            validate(&*store, T0, &ask, &everyone)
                .await
                .expect("validate")
                .verdict
        }
    };
    let key: &'static str = "KEY-lic_1";
    let probe = Probe {
        key,
        ..Probe::default()
    };
    let ask = Ask {
        probe,
        ..Ask::default()
    };
    assert_eq!(verdict(ask).await, Verdict::Valid);
    let pro: &'static [String] = Box::leak(Box::new(["pro".to_owned()]));
    let gold: &'static [String] = Box::leak(Box::new(["gold".to_owned()]));
    assert_eq!(
        verdict(Ask {
            fingerprint: Some("fp"),
            entitlements: pro,
            ..ask
        })
        .await,
        Verdict::Valid
    );
    assert_eq!(
        verdict(Ask {
            entitlements: gold,
            ..ask
        })
        .await,
        Verdict::EntitlementsMissing(vec!["gold".into()])
    );
    assert_eq!(
        verdict(Ask {
            fingerprint: Some("other"),
            entitlements: gold,
            ..ask
        })
        .await,
        Verdict::NoMachine,
        "the machine before the entitlements"
    );
    assert_eq!(
        verdict(Ask {
            probe: Probe {
                key: "KEY-none",
                ..probe
            },
            ..ask
        })
        .await,
        Verdict::NotFound
    );
    let hidden = validate(&*f.a, T0, &ask, &|_| false)
        .await
        .expect("validate");
    assert_eq!((hidden.verdict, hidden.license), (Verdict::NotFound, None));
    assert_eq!(
        verdict(Ask {
            product: Some("other"),
            fingerprint: Some("other"),
            ..ask
        })
        .await,
        Verdict::ProductScopeMismatch("other".into())
    );
    assert_eq!(
        verdict(Ask {
            product: Some("acme"),
            ..ask
        })
        .await,
        Verdict::Valid,
        "by code"
    );
    f.a.change_license("lic_1", &|l| {
        let mut next = l.clone();
        next.status = crate::model::LicenseStatus::Suspended;
        Ok(Some((next, Record::none())))
    })
    .await
    .expect("suspend");
    assert_eq!(
        verdict(Ask {
            fingerprint: Some("other"),
            ..ask
        })
        .await,
        Verdict::Refused(Refusal::Suspended),
        "the license's state before the machine"
    );
    f.b.put_blacklist(&blacklist_entry(
        "bl_1",
        crate::model::BlacklistType::License,
        key,
    ))
    .await
    .expect("blacklist");
    let v = validate(&*f.a, T0, &ask, &everyone)
        .await
        .expect("validate");
    assert_eq!(v.verdict.code(), "blacklisted", "the blacklist first");
    assert_eq!(
        v.license, None,
        "a blacklisted caller learns nothing of the license"
    );
}

/// Two instances starting together on one store both create signing keys: the first stored
/// wins, and both go on with it.
pub async fn the_first_sealed_key_stored_wins(f: Fixture) {
    assert_eq!(f.a.sealed_key("token").await.expect("read"), None);
    let (x, y) = tokio::join!(
        f.a.insert_sealed_key("token", b"sealed by a"),
        f.b.insert_sealed_key("token", b"sealed by b"),
    );
    let (x, y) = (x.expect("a"), y.expect("b"));
    assert_eq!(x, y, "both handles go on with one key");
    assert!(x == b"sealed by a" || x == b"sealed by b");
    assert_eq!(
        f.b.sealed_key("token").await.expect("read"),
        Some(x.clone())
    );
    // A later start keeps the stored key.
    assert_eq!(
        f.a.insert_sealed_key("token", b"a third")
            .await
            .expect("again"),
        x
    );
    assert_eq!(f.a.sealed_key("rsa").await.expect("other name"), None);
}

/// Download files, on a backend that keeps them: chunks become a file in one step, a path is
/// never replaced, another handle reads what one wrote, and a broken upload is pruned while a
/// file's chunks are kept. A backend that keeps no files answers as one with none.
pub async fn a_file_is_committed_once_and_read_back_in_chunks(f: Fixture) {
    if !f.a.keeps_files() {
        assert!(!f.a.has_file("prd_a", "app.zip").await.expect("has"));
        assert_eq!(
            f.a.file_chunk("prd_a", "app.zip", 0).await.expect("chunk"),
            None
        );
        return;
    }
    for (n, bytes) in [b"first ".as_slice(), b"second"].iter().enumerate() {
        f.a.put_upload_chunk("up-1", n as u32, bytes, T0)
            .await
            .expect("chunk");
    }
    assert!(
        !f.b.has_file("prd_a", "app.zip").await.expect("has"),
        "chunks alone are no file"
    );
    assert_eq!(
        f.b.file_chunk("prd_a", "app.zip", 0).await.expect("chunk"),
        None
    );
    f.a.commit_file("up-1", "prd_a", "app.zip")
        .await
        .expect("commit");
    assert!(f.b.has_file("prd_a", "app.zip").await.expect("has"));
    assert!(
        !f.b.has_file("prd_b", "app.zip").await.expect("has"),
        "per product"
    );
    let mut read = Vec::new();
    let mut n = 0;
    while let Some(chunk) = f.b.file_chunk("prd_a", "app.zip", n).await.expect("chunk") {
        read.extend_from_slice(&chunk);
        n += 1;
    }
    assert_eq!((read.as_slice(), n), (b"first second".as_slice(), 2));
    // A second upload to the same path is refused, and the first stays as it was.
    f.b.put_upload_chunk("up-2", 0, b"other", T0)
        .await
        .expect("chunk");
    assert!(matches!(
        f.b.commit_file("up-2", "prd_a", "app.zip").await,
        Err(StoreError::Conflict {
            constraint: Constraint::DownloadFile,
            ..
        })
    ));
    assert_eq!(
        f.a.file_chunk("prd_a", "app.zip", 0).await.expect("chunk"),
        Some(b"first ".to_vec())
    );
    // Pruning removes the abandoned upload (one chunk), not the file's.
    assert_eq!(f.a.prune_uploads(T0 + 1).await.expect("prune"), 1);
    assert_eq!(
        f.b.file_chunk("prd_a", "app.zip", 1).await.expect("chunk"),
        Some(b"second".to_vec())
    );
    f.a.delete_file("prd_a", "app.zip").await.expect("delete");
    assert!(!f.b.has_file("prd_a", "app.zip").await.expect("has"));
    assert_eq!(
        f.a.prune_uploads(T0 + 1).await.expect("prune"),
        0,
        "its chunks went with it"
    );
}

/// [`crate::store::Lookups::validation_facts`] finds what the reads it stands for find, one by
/// one, whatever of it exists: a license with its machine, without, an unknown key, and
/// blacklist entries of several kinds (by id).
pub async fn validation_facts_are_what_the_reads_one_by_one_find(f: Fixture) {
    use crate::model::BlacklistType;
    use crate::store::facts_one_by_one;
    f.a.insert_product(&product("facts", 1, "Facts"))
        .await
        .expect("product");
    f.a.put_policy(&policy("prd_facts")).await.expect("policy");
    let l = license("lic_facts", "prd_facts", "active", None);
    f.a.insert_license(&l, Record::none())
        .await
        .expect("license");
    f.a.put_machine(&machine("lic_facts", "fp-1"))
        .await
        .expect("machine");
    for (id, kind, value) in [
        ("bl_2", BlacklistType::Ip, "203.0.113.9"),
        ("bl_1", BlacklistType::License, l.key.as_str()),
        ("bl_3", BlacklistType::Hwid, "elsewhere"),
    ] {
        f.a.put_blacklist(&blacklist_entry(id, kind, value))
            .await
            .expect("blacklist");
    }
    let probes = [
        (BlacklistType::License, l.key.as_str()),
        (BlacklistType::Ip, "203.0.113.9"),
    ];
    for (key, fp) in [
        (l.key.as_str(), Some("fp-1")),
        (l.key.as_str(), Some("fp-2")),
        (l.key.as_str(), None),
        ("KEY-nobody", Some("fp-1")),
    ] {
        let together = f.b.validation_facts(&probes, key, fp).await.expect("facts");
        let apart = facts_one_by_one(&*f.b, &probes, key, fp)
            .await
            .expect("reads");
        assert_eq!(together, apart, "{key} {fp:?}");
    }
    let found =
        f.b.validation_facts(&probes, &l.key, Some("fp-1"))
            .await
            .expect("facts");
    let ids: Vec<&str> = found.blacklist.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["bl_1", "bl_2"], "the matching entries, by id");
    assert!(found.license.is_some() && found.product.is_some() && found.policy.is_some());
    assert_eq!(
        found.machine.map(|m| m.fingerprint),
        Some("fp-1".to_owned())
    );
}

/// A leased seat (offline or borrowed) on a node-locked license is held until the lease ends,
/// whatever its heartbeats, and is given back to the next machine once it has; the lease, the
/// device key and the kept response come back as written through the other handle, and the
/// culler is told to watch the license.
pub async fn a_lease_holds_its_seat_until_it_ends_then_gives_it_back(f: Fixture) {
    stored_license(&f, "lic_1").await;
    let rule = SeatRule {
        max: 1,
        floating: false,
        heartbeat_ttl: 60,
        bound_to_first: false,
    };
    let mut leased = machine("lic_1", "offline");
    leased.last_heartbeat = T0 - 10_000;
    leased.lease = Some(crate::model::Lease::Offline);
    leased.lease_until = Some(T0 + 100);
    leased.device_key = Some("ab".repeat(32));
    leased.request_id = Some("cd".repeat(16));
    leased.response = Some("response".into());
    take(&f.a, &claim("lic_1", "offline"), &rule, T0, &|_| {
        Ok((leased.clone(), Record::none()))
    })
    .await
    .expect("the leased seat");
    assert_eq!(
        f.b.machine("lic_1", "offline").await.expect("read"),
        Some(leased.clone()),
        "every lease field round-trips"
    );
    assert!(
        f.b.floating_licenses()
            .await
            .expect("index")
            .contains(&"lic_1".to_owned()),
        "the culler watches a license with a lease"
    );
    for at in [T0 + 50, T0 + 99] {
        let other = take(&f.b, &claim("lic_1", "other"), &rule, at, &|_| {
            Ok((machine("lic_1", "other"), Record::none()))
        })
        .await;
        assert!(
            matches!(
                other,
                Err(SeatError::Refused(SeatRefusal::TooManyMachines { max: 1 }))
            ),
            "the lease holds the seat at {at}: {other:?}"
        );
    }
    let seated = take(&f.b, &claim("lic_1", "other"), &rule, T0 + 100, &|_| {
        Ok((machine("lic_1", "other"), Record::none()))
    })
    .await
    .expect("the lease has ended");
    assert_eq!(
        seated
            .reaped
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        [leased.id.as_str()]
    );
    assert_eq!(f.a.machine("lic_1", "offline").await.expect("read"), None);
    assert_eq!(f.a.machine_count("lic_1").await.expect("count"), 1);
}

/// Tokens are put on the list once: the state's sequence rises, its list and record are
/// written together, and the same tokens again (through the other handle) write nothing. A
/// request id spent through one handle is seen as spent through the other.
pub async fn tokens_are_revoked_once_and_requests_spent_once(f: Fixture) {
    let before = f.a.revocation_state().await.expect("state");
    let sign = |st: &RevocationState| Ok(format!("list {}", st.sequence).into_bytes());
    let failed =
        f.a.revoke_tokens(
            &["t1".into()],
            &|_| Err(StoreError::backend("down")),
            &|_| Record::from(entry("token.revoked", "mch_1")),
        )
        .await;
    assert!(failed.is_err());
    assert_eq!(f.b.revocation_state().await.expect("state"), before);
    let state =
        f.a.revoke_tokens(&["t1".into(), String::new()], &sign, &|st| {
            let mut e = entry("token.revoked", "mch_1");
            e.detail = json!({ "sequence": st.sequence });
            Record::from(e)
        })
        .await
        .expect("revoke");
    assert_eq!(state.sequence, before.sequence + 1);
    assert_eq!(state.token_ids.iter().collect::<Vec<_>>(), ["t1"]);
    assert_eq!(
        f.b.revocation_list().await.expect("list"),
        Some(format!("list {}", state.sequence).into_bytes())
    );
    let again =
        f.b.revoke_tokens(&["t1".into()], &sign, &|_| {
            Record::from(entry("token.revoked", "mch_1"))
        })
        .await
        .expect("again");
    assert_eq!(again, state, "nothing new to list: nothing written");
    let (told, n) = f.a.audit_of("mch_1", 0, 10).await.expect("audit");
    assert_eq!(
        (n, told[0].detail["sequence"].clone()),
        (1, json!(state.sequence))
    );

    let id = b"offline-request-id";
    assert!(!f.a.challenge_spent(id, T0 + 600).await.expect("peek"));
    assert!(f.a.spend_challenge(id, T0 + 600, T0).await.expect("spend"));
    assert!(f.b.challenge_spent(id, T0 + 600).await.expect("peek"));
    assert!(!f.b.spend_challenge(id, T0 + 600, T0).await.expect("again"));
    assert!(
        !f.b.challenge_spent(b"another", T0 + 600)
            .await
            .expect("peek")
    );
}

fn count(day: i64, name: &str, product: &str) -> crate::store::CountKey {
    crate::store::CountKey {
        day,
        name: name.into(),
        product_id: product.into(),
    }
}

/// Counts from two handles adding at once add up (nothing is overwritten), a read covers the
/// days asked for in key order, negative days included, and a prune removes only older days.
pub async fn daily_counts_add_up_across_handles(f: Fixture) {
    let day = 20_000;
    let mut tasks = Vec::new();
    for (i, s) in [f.a.clone(), f.b.clone(), f.a.clone(), f.b.clone()]
        .into_iter()
        .enumerate()
    {
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let batch = vec![
                    (count(day, "validation", "prd_a"), 1),
                    (count(day, "refusal:expired", "prd_a"), 2),
                    // The same key twice in one batch adds both.
                    (count(day + 1, "validation", ""), 1),
                    (count(day + 1, "validation", ""), 1),
                    (count(day - 1, "activation", &format!("prd_{i}")), 1),
                ];
                s.add_counts(&batch).await.expect("add");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    f.a.add_counts(&[(count(-3, "validation", "prd_a"), 7)])
        .await
        .expect("a day before 1970");
    f.a.add_counts(&[]).await.expect("nothing to add");
    let got = f.b.counts(day, day + 1).await.expect("read");
    assert_eq!(
        got,
        vec![
            (count(day, "refusal:expired", "prd_a"), 80),
            (count(day, "validation", "prd_a"), 40),
            (count(day + 1, "validation", ""), 80),
        ],
        "four writers' additions, in key order"
    );
    let all = f.a.counts(i64::MIN, i64::MAX).await.expect("all");
    assert_eq!(all.first(), Some(&(count(-3, "validation", "prd_a"), 7)));
    assert_eq!(
        all.len(),
        4 + 3 + 1,
        "four products' activations, three keys, one old day"
    );
    assert_eq!(f.a.counts(day + 1, day).await.expect("empty range"), vec![]);
    assert_eq!(f.a.prune_counts(day).await.expect("prune"), 5);
    let left = f.b.counts(i64::MIN, i64::MAX).await.expect("left");
    assert!(left.iter().all(|(k, _)| k.day >= day), "{left:?}");
    assert_eq!(left.len(), 3);
}

/// The overview's reads: licenses expiring in a window come from the expiry index, soonest
/// first and bounded, and each license's machine count from the counts kept with them.
pub async fn the_overview_reads_expiries_and_seat_counts_from_indexes(f: Fixture) {
    let p = product("ovw", 1, "Overview");
    f.a.insert_product(&p).await.expect("product");
    f.a.put_policy(&policy(&p.id)).await.expect("policy");
    for (id, at) in [
        ("lic_past", Some(T0 - 10)),
        ("lic_edge", Some(T0)),
        ("lic_soon", Some(T0 + 100)),
        ("lic_soon2", Some(T0 + 100)),
        ("lic_later", Some(T0 + 5_000)),
        ("lic_far", Some(T0 + 1_000_000)),
        ("lic_never", None),
    ] {
        f.a.insert_license(&license(id, &p.id, "active", at), Record::none())
            .await
            .expect("license");
    }
    let ids = |v: Vec<(i64, String)>| v.into_iter().map(|(_, id)| id).collect::<Vec<_>>();
    assert_eq!(
        ids(f.b.expiring(T0, T0 + 10_000, 10).await.expect("window")),
        ["lic_soon", "lic_soon2", "lic_later"],
        "after `from`, up to and including `to`, soonest first"
    );
    assert_eq!(
        ids(f.b.expiring(T0 - 1, T0 + 10_000, 2).await.expect("bounded")),
        ["lic_edge", "lic_soon"]
    );
    assert!(f.a.expiring(T0, T0, 10).await.expect("empty").is_empty());
    for fp in ["a", "b", "c"] {
        f.a.put_machine(&machine("lic_soon", fp))
            .await
            .expect("machine");
    }
    f.b.put_machine(&machine("lic_edge", "a"))
        .await
        .expect("machine");
    f.a.remove_machine(&machine("lic_soon", "b"))
        .await
        .expect("remove");
    f.a.put_machine(&machine("lic_far", "a"))
        .await
        .expect("machine");
    f.a.remove_machine(&machine("lic_far", "a"))
        .await
        .expect("remove");
    assert_eq!(
        f.b.seat_counts().await.expect("counts"),
        vec![("lic_edge".to_owned(), 1), ("lic_soon".to_owned(), 2)],
        "licenses with machines only, in id order"
    );
}

/// The seat rule's bounded reads, which every backend answers from indexes kept with the
/// machines: the seats that ended (leases by their end, floating machines by their last
/// heartbeat, soonest first, as many as asked), followed through heartbeats, new leases and
/// removals; the machines by their indexed parts, followed through learned parts; a full
/// license that needs one seat reaps one dead machine, the longest dead, not every one.
pub async fn the_seat_rule_finds_ended_seats_and_parts_through_indexes(f: Fixture) {
    use crate::seats::{indexed_parts, part_hex};
    stored_license(&f, "lic_1").await;
    let floating = SeatRule {
        max: 3,
        floating: true,
        heartbeat_ttl: 60,
        bound_to_first: false,
    };
    let node_locked = SeatRule {
        floating: false,
        ..floating
    };
    // Five silent machines (heartbeats 100 to 500 s ago), two leases (one ended), one live.
    for (i, ago) in [300, 100, 500, 200, 400].into_iter().enumerate() {
        let mut m = machine("lic_1", &format!("silent-{i}"));
        m.last_heartbeat = T0 - ago;
        f.a.put_machine(&m).await.expect("put");
    }
    let mut ended = machine("lic_1", "lease-ended");
    ended.lease_until = Some(T0 - 5);
    ended.last_heartbeat = T0 - 10_000;
    f.b.put_machine(&ended).await.expect("put");
    let mut running = machine("lic_1", "lease-running");
    running.lease_until = Some(T0 + 5);
    running.last_heartbeat = T0 - 10_000;
    f.b.put_machine(&running).await.expect("put");
    f.a.put_machine(&machine("lic_1", "live"))
        .await
        .expect("put");
    let fps = |ms: Vec<Machine>| ms.into_iter().map(|m| m.fingerprint).collect::<Vec<_>>();
    assert_eq!(
        fps(f
            .a
            .ended_machines("lic_1", &node_locked, T0, 10)
            .await
            .expect("ended")),
        ["lease-ended"],
        "a node-locked seat ends only with its lease"
    );
    assert_eq!(
        fps(f
            .b
            .ended_machines("lic_1", &floating, T0, 3)
            .await
            .expect("ended")),
        ["lease-ended", "silent-2", "silent-4"],
        "ended leases, then the longest silent, as many as asked"
    );
    // A heartbeat takes a machine out; a lease that ended on a silent one puts it back first.
    let mut beat = machine("lic_1", "silent-2");
    beat.last_heartbeat = T0;
    f.a.update_machine(&beat).await.expect("heartbeat");
    let mut leased = machine("lic_1", "silent-4");
    leased.last_heartbeat = T0;
    leased.lease_until = Some(T0 - 1);
    f.b.update_machine(&leased).await.expect("lease");
    assert_eq!(
        fps(f
            .a
            .ended_machines("lic_1", &floating, T0, 10)
            .await
            .expect("ended")),
        [
            "lease-ended",
            "silent-4",
            "silent-0",
            "silent-3",
            "silent-1"
        ],
    );
    assert!(f.b.remove_machine(&ended).await.expect("remove"));
    assert_eq!(
        fps(f
            .b
            .ended_machines("lic_1", &floating, T0, 1)
            .await
            .expect("ended")),
        ["silent-4"],
        "a removed machine leaves the index"
    );
    // A full floating license reaps as many dead seats as the claim needs: one, the lease,
    // though four are dead.
    let before = f.a.machine_count("lic_1").await.expect("count");
    assert_eq!(before, 7);
    let full = SeatRule { max: 7, ..floating };
    let seated = take(&f.a, &claim("lic_1", "new"), &full, T0, &|_| {
        Ok((machine("lic_1", "new"), Record::none()))
    })
    .await
    .expect("a dead seat is given back");
    assert_eq!(fps(seated.reaped), ["silent-4"]);
    assert_eq!(f.b.machine_count("lic_1").await.expect("count"), before);

    // Parts: a machine is found by the parts it is indexed under, and by nothing else.
    let parts: Vec<[u8; 8]> = (1..=6u8).map(|i| [i; 8]).collect();
    let mut hw = machine("lic_1", "hw");
    hw.parts = parts.iter().map(part_hex).collect();
    f.a.put_machine(&hw).await.expect("put");
    let indexed: Vec<String> = indexed_parts(&hw.parts)
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(indexed.len(), 3, "half of six distinct parts, rounded up");
    for p in &parts {
        let found = fps(f
            .b
            .machines_sharing_parts("lic_1", &[*p])
            .await
            .expect("parts"));
        let expect: &[&str] = if indexed.contains(&part_hex(p)) {
            &["hw"]
        } else {
            &[]
        };
        assert_eq!(found, expect, "part {}", part_hex(p));
    }
    // One disk replaced: the same machine under a new fingerprint, its parts learned.
    let mut swapped = parts.clone();
    swapped[0] = [99; 8];
    let claim_swapped = SeatClaim {
        license_id: "lic_1".into(),
        fingerprint: "hw-new-disk".into(),
        parts: swapped.clone(),
    };
    let again = take(&f.b, &claim_swapped, &node_locked, T0, &|seat| {
        let found = seat.found().expect("recognised by its parts");
        let mut m = found.machine.clone();
        m.parts = swapped.iter().map(part_hex).collect();
        Ok((m, Record::none()))
    })
    .await
    .expect("the same machine");
    assert!(!again.fresh);
    assert_eq!(
        fps(f
            .a
            .machines_sharing_parts("lic_1", &[[99; 8]])
            .await
            .expect("parts")),
        ["hw"],
        "the learned part is indexed"
    );
    assert!(
        f.a.machines_sharing_parts("lic_1", &[parts[0]])
            .await
            .expect("parts")
            .is_empty(),
        "the replaced part is not"
    );
    // One known part sent four times is one part, not a match.
    let repeated = SeatClaim {
        license_id: "lic_1".into(),
        fingerprint: "impostor".into(),
        parts: vec![[99; 8]; 4],
    };
    let seen = crate::seats::Snapshot::read(&*f.b, std::slice::from_ref(&repeated), None)
        .await
        .expect("read");
    assert!(matches!(
        crate::seats::recognise(&repeated, &seen),
        Ok(None)
    ));
    assert!(f.b.remove_machine(&hw).await.expect("remove"));
    assert!(
        f.b.machines_sharing_parts("lic_1", &[[99; 8], parts[1], parts[2]])
            .await
            .expect("parts")
            .is_empty(),
        "a removed machine is found by no part"
    );
}
