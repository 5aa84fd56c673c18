//! The facts a validation reads in one round trip.

use super::*;

/// What a validation reads ([`crate::rules::validate`]), read together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidationFacts {
    /// The blacklist entries that match the probes, in force or not, by id.
    pub blacklist: Vec<BlacklistEntry>,
    /// The license of the key.
    pub license: Option<License>,
    /// Its product.
    pub product: Option<Product>,
    /// Its policy.
    pub policy: Option<Policy>,
    /// Its machine of the fingerprint asked about.
    pub machine: Option<Machine>,
}

/// Reads that answer one request together. A validation is the hottest path of a license
/// server, and on a database each read is a round trip: a backend answers this in one where it
/// can ([`facts_one_by_one`] is the same, read by read).
#[async_trait]
pub trait Lookups: Send + Sync {
    /// The blacklist entries matching `probes`, and the license of `key` with its product,
    /// its policy and its machine of `fingerprint`.
    async fn validation_facts(
        &self,
        probes: &[(BlacklistType, &str)],
        key: &str,
        fingerprint: Option<&str>,
    ) -> StoreResult<ValidationFacts>;
}

/// [`Lookups::validation_facts`] read by read, through the other traits.
pub async fn facts_one_by_one<S: Catalog + Licenses + Seats + Security + ?Sized>(
    s: &S,
    probes: &[(BlacklistType, &str)],
    key: &str,
    fingerprint: Option<&str>,
) -> StoreResult<ValidationFacts> {
    let mut blacklist = s.blacklist_matches(probes).await?;
    blacklist.sort_by(|a, b| a.id.cmp(&b.id));
    let Some(license) = s.license_by_key(key).await? else {
        return Ok(ValidationFacts {
            blacklist,
            ..ValidationFacts::default()
        });
    };
    let product = s.product(&license.product_id).await?;
    let policy = s.policy(&license.policy_id).await?;
    let machine = match fingerprint {
        Some(fp) => s.machine(&license.id, fp).await?,
        None => None,
    };
    Ok(ValidationFacts {
        blacklist,
        license: Some(license),
        product,
        policy,
        machine,
    })
}
