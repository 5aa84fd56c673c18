//! Which webhook deliveries are in flight in this process, so that overlapping rounds of the
//! outbox never send one twice and one endpoint never holds more than its share.

/// Deliveries in flight at once to one webhook endpoint, and in all: one endpoint that never
/// answers holds at most its own share, and delays no other.
pub const PER_ENDPOINT: usize = 2;
/// Deliveries in flight at once, all endpoints together.
pub const IN_FLIGHT: usize = 32;

/// Which deliveries are being sent, so that overlapping rounds never send one twice, and how
/// many per endpoint.
#[derive(Debug, Default)]
pub struct Dispatch {
    state: std::sync::Mutex<DispatchState>,
}

#[derive(Debug, Default)]
struct DispatchState {
    deliveries: std::collections::HashSet<u64>,
    per_webhook: std::collections::HashMap<String, usize>,
}

/// A claimed delivery; dropping it (also on a panic) releases the claim. It owns its
/// `Dispatch`, so that a round takes its claims before it spawns the sends that hold them.
pub(crate) struct Claim {
    dispatch: std::sync::Arc<Dispatch>,
    id: u64,
    webhook: String,
}

impl Dispatch {
    /// Claims delivery `id` to `webhook` if it is not in flight and both bounds allow it.
    pub(crate) fn claim(self: &std::sync::Arc<Self>, id: u64, webhook: &str) -> Option<Claim> {
        let mut st = self.state.lock().ok()?;
        let busy = st.per_webhook.get(webhook).copied().unwrap_or(0);
        if st.deliveries.contains(&id) || busy >= PER_ENDPOINT || st.deliveries.len() >= IN_FLIGHT {
            return None;
        }
        st.deliveries.insert(id);
        st.per_webhook.insert(webhook.to_owned(), busy + 1);
        Some(Claim {
            dispatch: self.clone(),
            id,
            webhook: webhook.to_owned(),
        })
    }

    /// Deliveries in flight now.
    pub fn in_flight(&self) -> usize {
        self.state.lock().map_or(0, |st| st.deliveries.len())
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Ok(mut st) = self.dispatch.state.lock() {
            st.deliveries.remove(&self.id);
            if let Some(n) = st.per_webhook.get_mut(&self.webhook) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    st.per_webhook.remove(&self.webhook);
                }
            }
        }
    }
}
