//! The ids of the records licenses are made of: a product's, a policy's, a license's and a
//! machine's, each its own type. A license's id cannot be passed where a product's is meant, and
//! an id says what it names by its type rather than by its prefix (`lic_…`), which is only how
//! licet makes new ones: records brought in from elsewhere keep the ids they had.
//!
//! Each is text on the wire and in the stores (`#[serde(transparent)]`), and reads as a `&str`
//! where text is wanted (`Deref`), so that lookups by id take the id itself.
//!
//! A product's lookup takes a product's id:
//!
//! ```
//! use licet_core::ids::{LicenseId, ProductId};
//! fn product_named(id: &ProductId) -> &str {
//!     id
//! }
//! assert_eq!(product_named(&ProductId::new("prd_1")), "prd_1");
//! # let _ = LicenseId::new("lic_1");
//! ```
//!
//! and not a license's, though both are text:
//!
//! ```compile_fail,E0308
//! use licet_core::ids::{LicenseId, ProductId};
//! fn product_named(id: &ProductId) -> &str {
//!     id
//! }
//! product_named(&LicenseId::new("lic_1"));
//! ```

use core::borrow::Borrow;
use core::fmt;
use core::ops::Deref;

use serde::{Deserialize, Serialize};

/// What every id type is: text, made by licet with its own prefix.
pub trait RecordId: From<String> + AsRef<str> {
    /// The prefix of the ids licet makes (`lic_`).
    const PREFIX: &'static str;
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id `text` (any text: a record brought in keeps its id).
            pub fn new(text: impl Into<String>) -> Self {
                $name(text.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id's text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl RecordId for $name {
            const PREFIX: &'static str = $prefix;
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }

        impl From<&String> for $name {
            fn from(s: &String) -> Self {
                $name(s.clone())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> String {
                id.0.clone()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

id_type!(
    /// A product's id (`prd_…`).
    ProductId,
    "prd_"
);
id_type!(
    /// A policy's id (`pol_…`).
    PolicyId,
    "pol_"
);
id_type!(
    /// A license's id (`lic_…`).
    LicenseId,
    "lic_"
);
id_type!(
    /// A machine's id (`mch_…`).
    MachineId,
    "mch_"
);

#[cfg(test)]
mod tests {
    use super::*;

    /// An id is its text on the wire, compares with text, and is none of the other ids.
    #[test]
    fn an_id_is_text_on_the_wire_and_its_own_type() {
        let id = LicenseId::new("lic_1");
        assert_eq!(serde_json::to_string(&id).expect("json"), "\"lic_1\"");
        let back: LicenseId = serde_json::from_str("\"lic_1\"").expect("parse");
        assert_eq!(back, id);
        let text = String::from("lic_1");
        assert_eq!(id, "lic_1");
        assert_eq!("lic_1", id);
        assert_eq!(id, text);
        assert_eq!(text, id);
        assert_eq!(&*id, "lic_1");
        assert_eq!(id.to_string(), "lic_1");
        let mut set = std::collections::BTreeSet::new();
        set.insert(id.clone());
        assert!(set.contains("lic_1"), "found by its text");
    }
}
