//! Spawned futures that are cancelled when their handle is dropped, and
//! sleeping that a cancelled task stops at once.

use std::future::Future;
use std::pin::Pin;

use futures_util::future::{AbortHandle, Abortable};

/// A future running on the page's event loop until this handle is dropped.
#[must_use = "the task is cancelled when this handle is dropped"]
pub struct Task(AbortHandle);

impl Task {
    pub fn spawn(fut: impl Future<Output = ()> + 'static) -> Self {
        Self::spawn_boxed(Box::pin(fut))
    }

    /// The untyped part of [`Task::spawn`], compiled once rather than once per future.
    fn spawn_boxed(fut: Pin<Box<dyn Future<Output = ()>>>) -> Self {
        let (handle, registration) = AbortHandle::new_pair();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = Abortable::new(fut, registration).await;
        });
        Self(handle)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Waits `ms` milliseconds (the timer is cleared if the waiting task is dropped).
pub async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}
