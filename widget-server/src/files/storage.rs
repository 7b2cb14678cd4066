//! Where file bytes live: a directory (the default, under `--data-dir`) or
//! any S3-compatible bucket, both through `object_store`. Blobs are named
//! by the SHA-256 of their bytes, so the same file sent twice is kept once;
//! the attachments naming a blob are its references.

use std::sync::Arc;

use futures_util::stream::BoxStream;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use sha2::{Digest, Sha256};

/// Where blobs go, from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Directory(std::path::PathBuf),
    S3 {
        bucket: String,
        endpoint: Option<String>,
        region: String,
        /// Access key id and secret; unset, the environment's (`AWS_*`) or the instance's role.
        credentials: Option<(String, String)>,
    },
}

/// The blob store.
#[derive(Debug, Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
}

/// The hex SHA-256 of `bytes`: a blob's name.
pub fn hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn path(hash: &str) -> Path {
    Path::from(format!("blobs/{}/{hash}", hash.get(..2).unwrap_or("00")))
}

/// A blob being read: its length and its bytes as they arrive.
pub struct Reading {
    pub size: u64,
    pub bytes: BoxStream<'static, object_store::Result<bytes::Bytes>>,
}

impl Blobs {
    pub fn open(place: &Place) -> anyhow::Result<Self> {
        let store: Arc<dyn ObjectStore> = match place {
            Place::Directory(dir) => {
                std::fs::create_dir_all(dir)?;
                Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir)?)
            }
            Place::S3 { bucket, endpoint, region, credentials } => {
                let mut builder =
                    object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket).with_region(region);
                if let Some((id, secret)) = credentials {
                    builder = builder.with_access_key_id(id).with_secret_access_key(secret);
                }
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                Arc::new(builder.build()?)
            }
        };
        Ok(Self { store })
    }

    /// Stores `bytes` (again, if they are there already: the write replaces
    /// the blob at once) and answers its name.
    pub async fn put(&self, bytes: Vec<u8>) -> object_store::Result<String> {
        let name = hash(&bytes);
        self.store.put(&path(&name), PutPayload::from(bytes)).await?;
        Ok(name)
    }

    pub async fn get(&self, hash: &str) -> object_store::Result<Reading> {
        let got = self.store.get(&path(hash)).await?;
        let size = got.meta.size;
        Ok(Reading { size, bytes: got.into_stream() })
    }

    /// Removes a blob; one already gone is no error.
    pub async fn delete(&self, hash: &str) -> object_store::Result<()> {
        match self.store.delete(&path(hash)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn exists(&self, hash: &str) -> bool {
        self.store.head(&path(hash)).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn blobs_are_kept_by_their_hash_once_and_removed_on_request() {
        let dir = tempfile::tempdir().expect("dir");
        let blobs = Blobs::open(&Place::Directory(dir.path().to_owned())).expect("store");
        let a = blobs.put(b"same bytes".to_vec()).await.expect("put");
        let b = blobs.put(b"same bytes".to_vec()).await.expect("put again");
        assert_eq!(a, b);
        assert_eq!(a, hash(b"same bytes"));
        let mut reading = blobs.get(&a).await.expect("get");
        assert_eq!(reading.size, 10);
        let mut got = Vec::new();
        while let Some(chunk) = reading.bytes.next().await {
            got.extend_from_slice(&chunk.expect("chunk"));
        }
        assert_eq!(got, b"same bytes");
        blobs.delete(&a).await.expect("delete");
        assert!(!blobs.exists(&a).await);
        blobs.delete(&a).await.expect("deleting twice is fine");
    }
}
