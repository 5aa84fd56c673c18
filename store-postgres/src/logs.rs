//! The audit log, and the pruning of the audit and security logs.

use async_trait::async_trait;
use licet_core::model::*;
use licet_core::store::*;

use crate::*;

/// Appends an audit entry in `c` (a change's transaction, or a connection of its own): its
/// sequence number.
pub(crate) async fn append_in<C: GenericClient>(c: &C, mut e: AuditEvent) -> StoreResult<u64> {
    let seq: i64 = scalar(c, "SELECT nextval('audit_seq')", &[]).await?;
    e.seq = unbig(seq);
    exec(
        c,
        "INSERT INTO audit (seq, at, actor, action, subject, product_id, data) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &seq,
            &e.at,
            &e.actor,
            &e.action,
            &e.subject,
            &e.product_id.as_deref(),
            &json(&e),
        ],
    )
    .await?;
    Ok(e.seq)
}

/// Removes up to `budget` of the oldest rows of a log (`audit` or `security_events`, whose time
/// column is `at_col`): those older than `before`, and those beyond the newest `max_entries`.
async fn prune<C: GenericClient>(
    c: &C,
    table: &str,
    at_col: &str,
    before: i64,
    max_entries: u64,
    budget: usize,
) -> StoreResult<usize> {
    let budget = i64::try_from(budget).unwrap_or(i64::MAX);
    let keep = i64::try_from(max_entries).unwrap_or(i64::MAX);
    // The rows to go are a prefix in sequence order: the oldest up to the last one that is
    // too old or beyond the newest `keep`.
    let sql = format!(
        "DELETE FROM {table} WHERE seq IN ( \
           SELECT seq FROM {table} \
           WHERE {at_col} < $1 \
              OR seq <= COALESCE((SELECT seq FROM {table} ORDER BY seq DESC OFFSET $2 LIMIT 1), 0) \
           ORDER BY seq LIMIT $3)"
    );
    let n = exec(c, &sql, &[&before, &keep, &budget]).await?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

#[async_trait]
impl Audit for PgStore {
    async fn append_audit(&self, e: AuditEvent) -> StoreResult<u64> {
        let c = self.conn().await?;
        append_in(&c, e).await
    }
    async fn audit_of(
        &self,
        subject: &str,
        skip: usize,
        limit: usize,
    ) -> StoreResult<(Vec<AuditEvent>, usize)> {
        let c = self.conn().await?;
        let total: i64 = scalar(
            &c,
            "SELECT count(*) FROM audit WHERE subject = $1",
            &[&subject],
        )
        .await?;
        let entries = all(
            &c,
            "SELECT data FROM audit WHERE subject = $1 ORDER BY seq DESC OFFSET $2 LIMIT $3",
            &[
                &subject,
                &i64::try_from(skip).unwrap_or(i64::MAX),
                &i64::try_from(limit).unwrap_or(i64::MAX),
            ],
        )
        .await?;
        Ok((entries, size(total)))
    }
    async fn audit(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEvent>> {
        let after = page.after.as_deref().and_then(|a| a.parse::<i64>().ok());
        // Newest first reads down from the cursor, oldest first up from it.
        let (after, cursor, order) = match filter.newest_first {
            true => (after.unwrap_or(i64::MAX), "seq < $1", "seq DESC"),
            false => (after.unwrap_or(0), "seq > $1", "seq"),
        };
        let take = i64::try_from(page.limit).unwrap_or(i64::MAX - 1) + 1;
        let c = self.conn().await?;
        let sql = format!(
            "SELECT data FROM audit \
             WHERE {cursor} \
               AND ($2::text IS NULL OR product_id = $2) \
               AND ($3::text IS NULL OR action = $3 \
                    OR (right($3, 1) = '.' AND starts_with(action, $3))) \
               AND ($4::text IS NULL OR subject = $4) \
               AND ($5::text IS NULL OR actor = $5) \
               AND ($6::bigint IS NULL OR at >= $6) \
               AND ($7::bigint IS NULL OR at < $7) \
               AND ($9::text IS NULL OR subject = $9 \
                    OR data->'detail'->>'license_id' = $9) \
             ORDER BY {order} LIMIT $8"
        );
        let mut items: Vec<AuditEvent> = all(
            &c,
            &sql,
            &[
                &after,
                &filter.product_id,
                &filter.action,
                &filter.subject,
                &filter.actor,
                &filter.since,
                &filter.until,
                &take,
                &filter.license,
            ],
        )
        .await?;
        let next = if items.len() > page.limit {
            items.truncate(page.limit);
            items.last().map(|e| e.seq.to_string())
        } else {
            None
        };
        Ok(Page { items, next })
    }
    async fn prune_logs(
        &self,
        before: i64,
        max_entries: u64,
        budget: usize,
    ) -> StoreResult<(usize, usize)> {
        let c = self.conn().await?;
        let audit = prune(&c, "audit", "at", before, max_entries, budget).await?;
        let security = prune(
            &c,
            "security_events",
            "created_at",
            before,
            max_entries,
            budget,
        )
        .await?;
        Ok((audit, security))
    }
}
