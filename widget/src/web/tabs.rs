//! One socket for all of a visitor's tabs (with `storage=local`, where they
//! share the session): the tab holding the session's Web Lock keeps the
//! socket and relays what comes in over a BroadcastChannel; the others send
//! their frames to it the same way. Messages on the channel are text whose
//! first character says what follows:
//!
//! - `f` and a server frame, relayed by the leader;
//! - `c` and a client frame for the leader to send on its socket;
//! - `o1` / `o0`: the visitor opened or closed the widget in a tab;
//! - `o?`: a tab that just joined asks; an open tab answers `o1`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/web/tabs.js")]
extern "C" {
    type Handle;
    #[wasm_bindgen(js_name = join)]
    fn join_js(name: &str, lead: &Closure<dyn FnMut()>, hear: &Closure<dyn FnMut(String)>) -> Handle;
    #[wasm_bindgen(method)]
    fn post(this: &Handle, text: &str);
    #[wasm_bindgen(method)]
    fn leave(this: &Handle);
}

/// This tab's place among the visitor's tabs; leaving (the lock and the
/// channel) when dropped.
pub struct Tabs {
    handle: Handle,
    _lead: Closure<dyn FnMut()>,
    _hear: Closure<dyn FnMut(String)>,
}

impl Tabs {
    /// Joins the tabs named `name`: `lead` runs when this tab becomes the
    /// leader (at once, or when the one before it closes), `hear` with each
    /// message another tab posts.
    pub fn join(name: &str, lead: impl FnMut() + 'static, hear: impl FnMut(String) + 'static) -> Self {
        let lead = Closure::<dyn FnMut()>::new(lead);
        let hear = Closure::<dyn FnMut(String)>::new(hear);
        let handle = join_js(name, &lead, &hear);
        Self { handle, _lead: lead, _hear: hear }
    }

    pub fn post(&self, text: &str) {
        self.handle.post(text);
    }
}

impl Drop for Tabs {
    fn drop(&mut self) {
        self.handle.leave();
    }
}
