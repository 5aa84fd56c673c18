//! Errors of store operations (re-exported by [`crate::store`]): the seat rule and the store
//! share them, so they live beside both.

/// What went wrong in a store operation. Nothing was written when an operation fails.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The object the operation is about does not exist.
    NotFound,
    /// The operation would break a rule the store keeps: a unique key, or an object still in
    /// use. `detail` is a message for people.
    Conflict {
        /// Which rule.
        constraint: Constraint,
        /// What collided, for people.
        detail: String,
    },
    /// The backend failed (I/O, a corrupt record). Internal: logged, never shown to a client
    /// in detail.
    Backend(String),
    /// The backend cannot be reached now (a database that is down or restarting, no free
    /// connection within the wait): nothing was written, and the same operation may succeed
    /// later. `detail` is for the log.
    Unavailable(String),
    /// The operation's closure declined: nothing was written, and the caller's own reason comes
    /// back as it was given. The typed methods ([`SeatsWith`](crate::store::SeatsWith),
    /// [`LicensesWith`](crate::store::LicensesWith)) hand it to their caller as
    /// [`Halted::Declined`]; it reaches no one else.
    Declined(Carried),
}

/// A caller's value carried through a store operation untouched: what its closure made beside
/// what the store writes, or the reason it declined. The store traits take their closures as
/// `dyn Fn` (object-safe, so the server holds one `Arc<dyn Store>`), so the value travels
/// boxed; the typed methods box and unbox it, and a store never looks inside.
pub struct Carried(Box<dyn std::any::Any + Send + Sync>);

impl Carried {
    /// Carries `value`.
    pub fn new<T: Send + Sync + 'static>(value: T) -> Carried {
        Carried(Box::new(value))
    }

    /// The value, if it is a `T`; otherwise the carrier back.
    pub fn take<T: 'static>(self) -> Result<T, Carried> {
        self.0.downcast::<T>().map(|b| *b).map_err(Carried)
    }
}

impl std::fmt::Debug for Carried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Carried(..)")
    }
}

/// Why a typed store operation wrote nothing: its closure declined with the caller's reason
/// `E`, or the operation failed with `F` (a [`SeatError`](crate::seats::SeatError) for seats,
/// a [`StoreError`] for licenses).
#[derive(Debug)]
pub enum Halted<E, F> {
    /// The closure's own reason.
    Declined(E),
    /// The seat rule refused, or the store failed.
    Failed(F),
}

impl<E: From<F>, F> Halted<E, F> {
    /// One reason, in the caller's type: the closure's, or the failure turned into it.
    pub fn reason(self) -> E {
        match self {
            Halted::Declined(e) => e,
            Halted::Failed(f) => f.into(),
        }
    }
}

/// `e` if the store handed back a decline carrying an `E`, else the error as it was.
pub(crate) fn declined_as<E: 'static>(e: StoreError) -> Result<E, StoreError> {
    match e {
        StoreError::Declined(c) => c.take::<E>().map_err(StoreError::Declined),
        other => Err(other),
    }
}

/// The rules a store keeps, named so that the edge can answer each with its own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Constraint {
    /// Product codes are unique.
    ProductCode,
    /// Product numeric ids are unique.
    ProductNumber,
    /// Names of products that answer by name (WemX, the Verify API) are unique among them.
    ProductName,
    /// License keys are unique.
    LicenseKey,
    /// Price ids are unique.
    PriceId,
    /// A product's download names are unique.
    DownloadName,
    /// User e-mail addresses are unique.
    UserEmail,
    /// A product's download files (their paths) are unique, and never replaced.
    DownloadFile,
    /// The object is still used by others (a product by licenses, a policy by licenses, a
    /// price by orders).
    InUse,
}

impl Constraint {
    /// The stable machine code of a violation.
    pub fn code(self) -> &'static str {
        match self {
            Constraint::ProductName => "duplicate_name",
            Constraint::InUse => "in_use",
            _ => "duplicate",
        }
    }
}

impl StoreError {
    /// A conflict with `constraint`.
    pub fn conflict(constraint: Constraint, detail: impl Into<String>) -> StoreError {
        StoreError::Conflict {
            constraint,
            detail: detail.into(),
        }
    }

    /// A backend failure.
    pub fn backend(e: impl std::fmt::Display) -> StoreError {
        StoreError::Backend(e.to_string())
    }

    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound => "not_found",
            StoreError::Conflict { constraint, .. } => constraint.code(),
            StoreError::Backend(_) => "store_error",
            StoreError::Unavailable(_) => "store_unavailable",
            // Reaches a caller only through a closure that declined without the typed methods.
            StoreError::Declined(_) => "store_error",
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NotFound => f.write_str("not found"),
            StoreError::Conflict { detail, .. } => f.write_str(detail),
            StoreError::Backend(e) => write!(f, "storage: {e}"),
            StoreError::Unavailable(e) => write!(f, "storage unavailable: {e}"),
            StoreError::Declined(_) => f.write_str("the operation was declined by its caller"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;
