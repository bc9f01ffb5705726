//! An S3-compatible bucket as the photo store (AWS S3, MinIO, Ceph RGW, a cloud's S3 API), when
//! configured: `serve --photos-bucket` with `--photos-endpoint` and `--photos-region`, the keys
//! from the environment only (`GRIDLINK_PHOTOS_ACCESS_KEY_ID`, `GRIDLINK_PHOTOS_SECRET_ACCESS_KEY`,
//! so they never show in a process list). The settings are checked here, whatever the build; the
//! client itself is object_store's `aws` back end, compiled only with the `s3` cargo feature
//! (it brings an HTTP client and a TLS stack the default build does without).

use super::PhotoError;

/// Where the bucket is and how to sign requests to it.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// `http(s)://host[:port]` of an S3-compatible server; `None` is AWS itself.
    pub endpoint: Option<String>,
    pub region: String,
    /// Both keys, or neither (then the AWS credential chain: instance role, `AWS_*` variables).
    pub keys: Option<(String, String)>,
}

/// The keys are secrets: never printed.
impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("keys", &self.keys.as_ref().map(|(id, _)| (id, "…")))
            .finish()
    }
}

/// The region object_store and most S3-compatible servers take when none is named.
pub const DEFAULT_REGION: &str = "us-east-1";

fn bad(field: &str, message: impl std::fmt::Display) -> PhotoError {
    PhotoError::Config(format!("{field}: {message}"))
}

impl S3Config {
    /// Checks the settings as given (flags, environment); errors name the setting.
    pub fn new(
        bucket: &str,
        endpoint: Option<&str>,
        region: Option<&str>,
        access_key_id: Option<&str>,
        secret_access_key: Option<&str>,
    ) -> Result<S3Config, PhotoError> {
        let bucket = bucket.trim();
        // The S3 bucket naming rules: 3–63 characters, lower-case letters, digits, dots and
        // hyphens, beginning and ending with a letter or digit.
        let edge_ok =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !(3..=63).contains(&bucket.len())
            || !bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
            || !edge_ok(bucket.chars().next())
            || !edge_ok(bucket.chars().last())
            || bucket.contains("..")
        {
            return Err(bad(
                "photos-bucket",
                format!("{bucket:?} is not an S3 bucket name (3–63 of a-z 0-9 . -)"),
            ));
        }
        let endpoint = match endpoint.map(str::trim).filter(|e| !e.is_empty()) {
            None => None,
            Some(e) => Some(check_endpoint(e)?),
        };
        let region = region
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or(DEFAULT_REGION);
        if !region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(bad(
                "photos-region",
                format!("{region:?} is not a region name"),
            ));
        }
        let key = |k: Option<&str>| {
            k.map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string)
        };
        let keys = match (key(access_key_id), key(secret_access_key)) {
            (Some(id), Some(secret)) => Some((id, secret)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(bad(
                    "GRIDLINK_PHOTOS_SECRET_ACCESS_KEY",
                    "the access key id is set, its secret is not",
                ));
            }
            (None, Some(_)) => {
                return Err(bad(
                    "GRIDLINK_PHOTOS_ACCESS_KEY_ID",
                    "the secret is set, the access key id is not",
                ));
            }
        };
        Ok(S3Config {
            bucket: bucket.to_string(),
            endpoint,
            region: region.to_string(),
            keys,
        })
    }

    /// Plain HTTP only to an endpoint named `http://…` (a server on the centre's own network).
    pub fn allow_http(&self) -> bool {
        self.endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"))
    }
}

/// `http(s)://host[:port]`, nothing after but an optional `/`.
fn check_endpoint(endpoint: &str) -> Result<String, PhotoError> {
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
        .ok_or_else(|| {
            bad(
                "photos-endpoint",
                format!("{endpoint:?} must begin with http:// or https://"),
            )
        })?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            (host, Some(port))
        }
        _ => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if !host_ok || !port_ok {
        return Err(bad(
            "photos-endpoint",
            format!("{endpoint:?} is not http(s)://host[:port]"),
        ));
    }
    Ok(endpoint.trim_end_matches('/').to_string())
}

/// The bucket as an object store (object_store's `aws` back end).
#[cfg(feature = "s3")]
pub fn open(
    config: &S3Config,
) -> Result<std::sync::Arc<dyn object_store::ObjectStore>, PhotoError> {
    let mut builder = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(&config.bucket)
        .with_region(&config.region)
        .with_allow_http(config.allow_http());
    if let Some(endpoint) = &config.endpoint {
        // S3-compatible servers address buckets by path (`endpoint/bucket/key`).
        builder = builder
            .with_endpoint(endpoint)
            .with_virtual_hosted_style_request(false);
    }
    if let Some((id, secret)) = &config.keys {
        builder = builder
            .with_access_key_id(id)
            .with_secret_access_key(secret);
    }
    let store = builder
        .build()
        .map_err(|e| PhotoError::Config(format!("photos-bucket: {e}")))?;
    Ok(std::sync::Arc::new(store))
}

/// Without the `s3` feature the settings are checked but no bucket can be opened.
#[cfg(not(feature = "s3"))]
pub fn open(
    config: &S3Config,
) -> Result<std::sync::Arc<dyn object_store::ObjectStore>, PhotoError> {
    Err(PhotoError::Config(format!(
        "photos-bucket {}: this gridlink was built without S3 support (cargo build --release --features s3)",
        config.bucket
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(bucket: &str, endpoint: Option<&str>) -> S3Config {
        S3Config::new(bucket, endpoint, None, None, None).unwrap()
    }

    fn refused(bucket: &str, endpoint: Option<&str>, region: Option<&str>) -> String {
        S3Config::new(bucket, endpoint, region, None, None)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn bucket_names_follow_the_s3_rules() {
        assert_eq!(ok("gridlink-photos", None).bucket, "gridlink-photos");
        assert_eq!(ok("fx.photos.2026", None).region, DEFAULT_REGION);
        for name in [
            "ab",
            "Gridlink",
            "-photos",
            "photos-",
            "a..b",
            "photo_s",
            &"a".repeat(64),
            "../etc",
        ] {
            assert!(
                refused(name, None, None).contains("photos-bucket"),
                "{name}"
            );
        }
    }

    #[test]
    fn endpoints_are_http_urls_of_a_host_and_port() {
        let minio = ok("photos", Some("http://10.20.0.5:9000/"));
        assert_eq!(minio.endpoint.as_deref(), Some("http://10.20.0.5:9000"));
        assert!(minio.allow_http());
        let tls = ok("photos", Some("https://oss.example.gov.cn"));
        assert!(!tls.allow_http());
        assert!(!ok("photos", None).allow_http());
        assert!(ok("photos", Some("http://[::1]:9000")).allow_http());
        for endpoint in [
            "10.20.0.5:9000",
            "ftp://host",
            "http://",
            "http://host:0",
            "http://host:99999",
            "http://host/bucket/x",
            "http://us er@host",
        ] {
            assert!(
                refused("photos", Some(endpoint), None).contains("photos-endpoint"),
                "{endpoint}"
            );
        }
        assert!(refused("photos", None, Some("US East")).contains("photos-region"));
        assert_eq!(
            S3Config::new("photos", None, Some("cn-east-1"), None, None)
                .unwrap()
                .region,
            "cn-east-1"
        );
    }

    #[test]
    fn keys_come_in_pairs_and_are_never_printed() {
        let config = S3Config::new(
            "photos",
            None,
            None,
            Some("AKIDEXAMPLE"),
            Some("s3cr3t-value"),
        )
        .unwrap();
        assert_eq!(
            config.keys,
            Some(("AKIDEXAMPLE".to_string(), "s3cr3t-value".to_string()))
        );
        assert!(!format!("{config:?}").contains("s3cr3t"));
        let half = S3Config::new("photos", None, None, Some("AKIDEXAMPLE"), None).unwrap_err();
        assert!(half.to_string().contains("SECRET_ACCESS_KEY"), "{half}");
        let half = S3Config::new("photos", None, None, None, Some("s")).unwrap_err();
        assert!(half.to_string().contains("ACCESS_KEY_ID"), "{half}");
    }

    #[cfg(not(feature = "s3"))]
    #[test]
    fn a_build_without_s3_says_so() {
        let e = open(&ok("photos", None)).err().unwrap().to_string();
        assert!(e.contains("--features s3"), "{e}");
    }
}
