//! The enums of the API. They mirror licet-core's stored enums today, and are kept apart on
//! purpose: a stored variant can be renamed or added without changing what clients see, and
//! the reverse (with the `core` feature, a conversion that no longer lines up fails to compile).

use serde::{Deserialize, Serialize};

/// Defines an API enum (serde names in `$case`, the OpenAPI schema with the `openapi` feature)
/// and, with the `core` feature, the conversions to and from licet-core's enum of that name.
macro_rules! api_enum {
    ($(#[$m:meta])* $case:literal $name:ident { $($(#[$vm:meta])* $v:ident),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = $case)]
        pub enum $name {
            $($(#[$vm])* $v),+
        }

        #[cfg(feature = "core")]
        impl From<licet_core::model::$name> for $name {
            fn from(x: licet_core::model::$name) -> Self {
                match x {
                    $(licet_core::model::$name::$v => $name::$v),+
                }
            }
        }

        #[cfg(feature = "core")]
        impl From<$name> for licet_core::model::$name {
            fn from(x: $name) -> Self {
                match x {
                    $($name::$v => licet_core::model::$name::$v),+
                }
            }
        }
    };
}

api_enum! {
    /// A license's status; `expired` is shown when the expiry has passed.
    "lowercase" LicenseStatus {
        /// Usable.
        Active,
        /// Temporarily disabled; can be reinstated.
        Suspended,
        /// Permanently disabled; its tokens are on the revocation list.
        Revoked,
        /// Past its expiry.
        Expired,
    }
}

impl LicenseStatus {
    /// Its name, as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseStatus::Active => "active",
            LicenseStatus::Suspended => "suspended",
            LicenseStatus::Revoked => "revoked",
            LicenseStatus::Expired => "expired",
        }
    }
}

api_enum! {
    /// A license's kind.
    "lowercase" Kind { Trial, Subscription, Lifetime }
}

api_enum! {
    /// What a licensed domain is used for.
    "lowercase" DomainType { Production, Development }
}

api_enum! {
    /// How a price is charged (WemX's price types).
    "lowercase" PriceKind { Single, Recurring, Free }
}

api_enum! {
    /// What an API key may do.
    "snake_case" Scope {
        /// Read only.
        ReadOnly,
        /// Read and write products, policies, licenses, machines.
        ReadWrite,
        /// Everything, including API keys and webhooks.
        Admin,
    }
}

api_enum! {
    /// A LicenseCM user's role.
    "lowercase" Role { User, Admin }
}

api_enum! {
    /// What a blacklist entry matches.
    "lowercase" BlacklistType { Ip, Hwid, License, Fingerprint }
}

api_enum! {
    /// Severity of a blacklist entry or security event.
    "lowercase" Severity { Info, Low, Medium, High, Critical }
}

api_enum! {
    /// Where a webhook delivery stands.
    "snake_case" DeliveryState {
        /// Queued: sent when due, retried with backoff.
        Pending,
        /// The receiver answered 2xx.
        Delivered,
        /// Given up after the last attempt (or its webhook's secret was lost).
        Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::LicenseStatus;

    #[test]
    fn a_status_name_is_the_one_serde_writes() {
        for s in [
            LicenseStatus::Active,
            LicenseStatus::Suspended,
            LicenseStatus::Revoked,
            LicenseStatus::Expired,
        ] {
            assert_eq!(
                serde_json::to_value(s).expect("serializes"),
                serde_json::json!(s.as_str())
            );
        }
    }
}
