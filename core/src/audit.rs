//! The audit log's vocabulary: every action an entry can record, named once.

/// Declares [`AuditAction`] with the name each action is written under.
macro_rules! audit_actions {
    ($($variant:ident = $name:literal;)*) => {
        /// What an audit entry records. Written to the log as its name
        /// ([`AuditAction::as_str`], the `action` of an entry), which stays stable: filters,
        /// exports and other systems read it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        #[allow(missing_docs)]
        pub enum AuditAction {
            $($variant,)*
        }

        impl AuditAction {
            /// Every action.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant),*];

            /// The name an entry is written under.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)*
                }
            }

            /// The action written `name`, if it is one.
            pub fn from_name(name: &str) -> Option<AuditAction> {
                match name {
                    $($name => Some(AuditAction::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

audit_actions! {
    ApiKeyCreated = "api_key.created";
    ApiKeyRevoked = "api_key.revoked";
    ApiKeyRotated = "api_key.rotated";
    BlacklistAdded = "blacklist.added";
    ClientActivation = "client.activation";
    ClientDeactivation = "client.deactivation";
    ClientHeartbeat = "client.heartbeat";
    ClientValidation = "client.validation";
    BlacklistRemoved = "blacklist.removed";
    CustomerCreated = "customer.created";
    CustomerPasswordReset = "customer.password_reset";
    DashboardSignInRefused = "dashboard.sign_in_refused";
    DashboardSignedIn = "dashboard.signed_in";
    DashboardSignedOut = "dashboard.signed_out";
    DomainAdded = "domain.added";
    DownloadGranted = "download.granted";
    DownloadRegistered = "download.registered";
    DownloadServed = "download.served";
    DownloadUnregistered = "download.unregistered";
    EnvironmentActivated = "environment.activated";
    FaxstoreCheck = "faxstore.check";
    LicenseBulkCreated = "license.bulk_created";
    LicenseCreated = "license.created";
    LicenseDeleted = "license.deleted";
    LicenseExpired = "license.expired";
    LicenseHwidReset = "license.hwid_reset";
    LicenseMachinesReset = "license.machines_reset";
    LicenseReinstated = "license.reinstated";
    LicenseRenewed = "license.renewed";
    LicenseRevoked = "license.revoked";
    LicenseSuspended = "license.suspended";
    LicenseUpdated = "license.updated";
    MachineActivated = "machine.activated";
    MachineCulled = "machine.culled";
    MachineDeactivated = "machine.deactivated";
    OrderCreated = "order.created";
    OrderDueDateUpdated = "order.due_date_updated";
    PolicyCreated = "policy.created";
    PolicyDeleted = "policy.deleted";
    PolicyUpdated = "policy.updated";
    PriceCreated = "price.created";
    PriceDeleted = "price.deleted";
    ProductCreated = "product.created";
    ProductDeleted = "product.deleted";
    ProductSecretRegenerated = "product.secret_regenerated";
    ProductUpdated = "product.updated";
    RootSecretRotated = "root_secret.rotated";
    SessionRevoked = "session.revoked";
    SessionTerminated = "session.terminated";
    SigningKeyRotated = "signing_key.rotated";
    TokenRevoked = "token.revoked";
    UserAdminCreated = "user.admin_created";
    UserPromoted = "user.promoted";
    UserRegistered = "user.registered";
    UserUpdated = "user.updated";
    WebhookCreated = "webhook.created";
    WebhookDeleted = "webhook.deleted";
    WebhookResent = "webhook.resent";
    WebhookTested = "webhook.tested";
    WebhookUpdated = "webhook.updated";
    WemxValidated = "wemx.validated";
}

/// The kind of object an action's entry is about: its subject is that object's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditObject {
    /// A product (`product.*`).
    Product,
    /// A policy (`policy.*`).
    Policy,
    /// A license (`license.*`).
    License,
    /// A machine (`machine.*`).
    Machine,
    /// Anything else: an API key, a customer, a user, a webhook, a download, a key, a session…
    Other,
}

impl AuditAction {
    /// The kind of object this action's entries are about, by the object its name starts with.
    pub fn object(self) -> AuditObject {
        match self.as_str().split_once('.').map_or("", |(o, _)| o) {
            "product" => AuditObject::Product,
            "policy" => AuditObject::Policy,
            "license" => AuditObject::License,
            "machine" => AuditObject::Machine,
            _ => AuditObject::Other,
        }
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::{AuditAction, AuditObject};

    #[test]
    fn an_action_is_about_the_object_its_name_starts_with() {
        assert_eq!(AuditAction::ProductUpdated.object(), AuditObject::Product);
        assert_eq!(AuditAction::PolicyDeleted.object(), AuditObject::Policy);
        assert_eq!(AuditAction::LicenseHwidReset.object(), AuditObject::License);
        assert_eq!(AuditAction::MachineCulled.object(), AuditObject::Machine);
        for other in [
            AuditAction::ApiKeyCreated,
            AuditAction::WebhookDeleted,
            AuditAction::DownloadServed,
            AuditAction::UserPromoted,
        ] {
            assert_eq!(other.object(), AuditObject::Other, "{other}");
        }
    }

    #[test]
    fn names_read_back_and_are_unique() {
        for (i, a) in AuditAction::ALL.iter().enumerate() {
            assert_eq!(AuditAction::from_name(a.as_str()), Some(*a));
            assert!(!AuditAction::ALL[..i].contains(a), "{a} twice");
            let (object, verb) = a.as_str().split_once('.').expect("object.verb");
            assert!(!object.is_empty() && !verb.is_empty(), "{a}");
        }
    }
}
