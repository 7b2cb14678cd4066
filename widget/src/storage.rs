//! Key-value storage behind a trait: the browser's `localStorage` and
//! `sessionStorage` in the page, a map in tests and for `storage=none`.

use std::cell::RefCell;
use std::fmt;

/// Why storage refused a read or write (blocked, full, private mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError(pub String);

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage unavailable: {}", self.0)
    }
}

impl std::error::Error for StorageError {}

/// String storage that reports failures instead of panicking.
pub trait KeyValue {
    fn get(&self, key: &str) -> Result<Option<String>, StorageError>;
    fn set(&self, key: &str, value: &str) -> Result<(), StorageError>;
    fn remove(&self, key: &str) -> Result<(), StorageError>;
}

/// Storage that lives as long as the page (`storage=none`, tests). It holds
/// a handful of keys, so a list is all the map it needs.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    entries: RefCell<Vec<(String, String)>>,
    writes: RefCell<usize>,
}

impl MemoryStorage {
    /// How many times `set` or `remove` was called.
    pub fn writes(&self) -> usize {
        *self.writes.borrow()
    }

    pub fn keys(&self) -> Vec<String> {
        self.entries.borrow().iter().map(|(k, _)| k.clone()).collect()
    }
}

impl KeyValue for MemoryStorage {
    fn get(&self, key: &str) -> Result<Option<String>, StorageError> {
        Ok(self.entries.borrow().iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
    }

    fn set(&self, key: &str, value: &str) -> Result<(), StorageError> {
        *self.writes.borrow_mut() += 1;
        let mut entries = self.entries.borrow_mut();
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => value.clone_into(v),
            None => entries.push((key.to_owned(), value.to_owned())),
        }
        Ok(())
    }

    fn remove(&self, key: &str) -> Result<(), StorageError> {
        *self.writes.borrow_mut() += 1;
        self.entries.borrow_mut().retain(|(k, _)| k != key);
        Ok(())
    }
}

impl<T: KeyValue + ?Sized> KeyValue for std::rc::Rc<T> {
    fn get(&self, key: &str) -> Result<Option<String>, StorageError> {
        (**self).get(key)
    }

    fn set(&self, key: &str, value: &str) -> Result<(), StorageError> {
        (**self).set(key, value)
    }

    fn remove(&self, key: &str) -> Result<(), StorageError> {
        (**self).remove(key)
    }
}
