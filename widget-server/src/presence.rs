//! Which operators have a console connected to this instance. An operator's
//! availability is what they chose (`online` or `away`), and `away` whenever
//! none of their consoles is connected. Instances count only their own
//! sockets: behind a load balancer an operator shows away on an instance
//! that does not hold their console.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Open consoles per operator.
#[derive(Debug, Default)]
pub struct Presence {
    consoles: Mutex<HashMap<String, usize>>,
}

/// A connected console; dropping it disconnects it.
#[derive(Debug)]
pub struct Present {
    presence: Arc<Presence>,
    operator_id: String,
}

impl Presence {
    /// Counts a console of `operator_id` until the returned guard is dropped.
    pub fn join(self: &Arc<Self>, operator_id: &str) -> Present {
        *self.consoles.lock().unwrap_or_else(PoisonError::into_inner).entry(operator_id.to_owned()).or_default() += 1;
        Present { presence: Arc::clone(self), operator_id: operator_id.to_owned() }
    }

    /// Whether the operator has a console connected here.
    pub fn connected(&self, operator_id: &str) -> bool {
        self.consoles.lock().unwrap_or_else(PoisonError::into_inner).contains_key(operator_id)
    }

    /// `online` when the operator chose it and has a console connected, else `away`.
    pub fn availability(&self, operator_id: &str, chosen: &str) -> &'static str {
        if chosen == "online" && self.connected(operator_id) {
            "online"
        } else {
            "away"
        }
    }
}

impl Drop for Present {
    fn drop(&mut self) {
        let mut consoles = self.presence.consoles.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = consoles.get_mut(&self.operator_id) {
            *n -= 1;
            if *n == 0 {
                consoles.remove(&self.operator_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operator_is_online_while_a_console_is_connected_and_they_chose_it() {
        let presence = Arc::new(Presence::default());
        assert_eq!(presence.availability("ann", "online"), "away");
        let first = presence.join("ann");
        let second = presence.join("ann");
        assert_eq!(presence.availability("ann", "online"), "online");
        assert_eq!(presence.availability("ann", "away"), "away");
        drop(first);
        assert_eq!(presence.availability("ann", "online"), "online", "one console is still open");
        drop(second);
        assert_eq!(presence.availability("ann", "online"), "away");
    }
}
