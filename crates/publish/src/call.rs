//! Plumbing shared by the publishers: sending a call (repeatable or not), turning a platform's
//! error answer into a [`PublishError`], reading JSON, downloading a media URL to a temporary file
//! ([`download_file`], read back by range: one chunk in memory, not the file) or reading it from
//! this server's disk when the target has the file ([`crate::Target::local_media`]: uploads), and
//! reading/writing a publisher's own progress type.
//!
//! Two ways to send:
//! - [`send`] for calls that are safe to repeat (status polls, a chunk append with its index, an
//!   upload to a pre-signed URL, metrics reads): a transport failure is
//!   [`PublishError::Failed`] with a retryable `network` diagnosis.
//! - [`send_once`] for the call that makes something public: a request sent without an answer
//!   is [`PublishError::Unknown`] (the platform may have acted), one that never left is
//!   `Failed` and retryable.

use chrono::{DateTime, Duration, Utc};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use switchboard_core::diagnosis::{diagnose_call, CallKind};
use switchboard_core::{Category, Diagnosis, PlatformSpec};
use switchboard_oauth::http::{RawResponse, SendError, StreamedResponse};
use switchboard_oauth::{OAuthError, PlatformHttp};

use crate::{LocalMedia, Progress, PublishError};

/// The most bytes [`download_file`] takes from a media URL (512 MiB): larger files are refused
/// (from `Content-Length` before reading, else as soon as the stream passes it).
pub const MAX_MEDIA_BYTES: u64 = 512 * 1024 * 1024;

/// `Failed` with `d`.
pub fn failed(d: Diagnosis) -> PublishError {
    PublishError::Failed(Box::new(d))
}

/// A non-retryable `Failed` of `category` on `spec`'s platform, with `cause` in plain words
/// (for problems found before or after a platform call, such as a missing board id).
pub fn refuse(spec: &PlatformSpec, category: Category, cause: impl Into<String>) -> PublishError {
    let mut d = Diagnosis::new(category);
    d.platform = Some(spec.id.clone());
    d.cause = cause.into();
    d.retryable = false;
    failed(d)
}

/// The platform's content API base URL (catalog `api_base_url`, placeholders filled).
///
/// # Errors
/// `Failed` (`invalid_request`) when the catalog has none.
pub fn api_base(spec: &PlatformSpec) -> Result<&str, PublishError> {
    spec.endpoints
        .api_base_url
        .as_deref()
        .map(|u| u.trim_end_matches('/'))
        .ok_or_else(|| {
            refuse(
                spec,
                Category::InvalidRequest,
                format!("The catalog has no api_base_url for {}.", spec.display_name),
            )
        })
}

fn oauth_diagnosis(e: OAuthError) -> Diagnosis {
    e.diagnosis()
}

/// Sends a repeatable call and reads the whole answer (any HTTP status).
///
/// # Errors
/// `Failed` (`network`, retryable) when no answer came.
pub async fn send(
    http: &PlatformHttp,
    spec: &PlatformSpec,
    what: &'static str,
    req: RequestBuilder,
) -> Result<RawResponse, PublishError> {
    http.send(spec, what, req)
        .await
        .map_err(|e| failed(oauth_diagnosis(e)))
}

/// Sends the call that makes something public, once (any HTTP status is returned).
///
/// # Errors
/// `Unknown` when the request was sent and no whole answer came; `Failed` (retryable) when it
/// certainly did not leave.
pub async fn send_once(
    http: &PlatformHttp,
    spec: &PlatformSpec,
    what: &'static str,
    req: RequestBuilder,
) -> Result<RawResponse, PublishError> {
    http.send_tracked(spec, what, req)
        .await
        .map_err(|e| match e {
            SendError::NotSent(e) => {
                let mut d = oauth_diagnosis(e);
                d.retryable = true;
                failed(d)
            }
            SendError::NoAnswer(e) => PublishError::Unknown(Box::new(oauth_diagnosis(e))),
        })
}

/// The diagnosis of a platform's error answer, with `retry_after_secs` from its headers.
pub fn diagnose(spec: &PlatformSpec, resp: &RawResponse) -> Diagnosis {
    let mut d = diagnose_call(
        &spec.id,
        CallKind::Api,
        Some(resp.status.as_u16()),
        &resp.text(),
    );
    d.retry_after_secs =
        switchboard_oauth::rate_limit::retry_after_secs(&resp.headers, resp.received_at);
    d.with_docs(spec.docs.first().map(|d| d.url.as_str()))
}

/// `resp` when its status is 2xx, else `Failed` with the platform's error diagnosed.
///
/// # Errors
/// `Failed` for any non-2xx answer.
pub fn ok(spec: &PlatformSpec, resp: RawResponse) -> Result<RawResponse, PublishError> {
    if resp.status.is_success() {
        Ok(resp)
    } else {
        Err(failed(diagnose(spec, &resp)))
    }
}

/// The JSON body of a 2xx answer.
///
/// # Errors
/// `Failed` for a non-2xx answer or a body that is not JSON.
pub fn json(spec: &PlatformSpec, resp: RawResponse) -> Result<Value, PublishError> {
    let resp = ok(spec, resp)?;
    if resp.body.is_empty() {
        return Ok(Value::Null);
    }
    resp.json(spec).map_err(|e| failed(oauth_diagnosis(e)))
}

/// A string field of a platform's answer, or `Failed` saying the answer lacks it.
///
/// # Errors
/// `Failed` (`unknown`, not retryable) when `pointer` is missing or not a string/number.
pub fn field(spec: &PlatformSpec, v: &Value, pointer: &str) -> Result<String, PublishError> {
    match v.pointer(pointer) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(refuse(
            spec,
            Category::Unknown,
            format!(
                "{} answered without the documented `{pointer}`.",
                spec.display_name
            ),
        )),
    }
}

/// A media file downloaded to an anonymous temporary file (removed by the OS when dropped, even
/// after a crash): publishers read the part they send with [`MediaFile::read_range`] or stream
/// it whole with [`MediaFile::into_body`], so an upload holds at most one chunk in memory, never
/// the file.
#[derive(Debug)]
pub struct MediaFile {
    file: tokio::fs::File,
    len: u64,
}

impl MediaFile {
    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes `from..to` (end excluded) of the file.
    ///
    /// # Errors
    /// `Failed` (`invalid_request`, not retryable) when the range is outside the file (it
    /// changed size since the upload was announced); `network` (retryable) on a disk error.
    pub async fn read_range(
        &mut self,
        spec: &PlatformSpec,
        from: u64,
        to: u64,
    ) -> Result<Vec<u8>, PublishError> {
        use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
        if from > to || to > self.len {
            return Err(refuse(
                spec,
                Category::InvalidRequest,
                "The media file changed size during the upload.",
            ));
        }
        let mut buf = vec![0; (to - from) as usize];
        self.file
            .seek(std::io::SeekFrom::Start(from))
            .await
            .map_err(|e| disk_error(spec, &e))?;
        self.file
            .read_exact(&mut buf)
            .await
            .map_err(|e| disk_error(spec, &e))?;
        Ok(buf)
    }

    /// The whole file, read as it is sent (for a request body or a multipart part).
    ///
    /// # Errors
    /// `network` (retryable) on a disk error.
    pub async fn into_body(mut self, spec: &PlatformSpec) -> Result<reqwest::Body, PublishError> {
        use tokio::io::AsyncSeekExt as _;
        self.file
            .seek(std::io::SeekFrom::Start(0))
            .await
            .map_err(|e| disk_error(spec, &e))?;
        Ok(reqwest::Body::from(self.file))
    }
}

fn disk_error(spec: &PlatformSpec, e: &std::io::Error) -> PublishError {
    let mut d = Diagnosis::network(&spec.id, format!("temporary media file: {e}"));
    d.cause = "The downloaded media file could not be read or written on this server.".to_string();
    failed(d)
}

/// A media fetch that got no (whole) answer: `network`, retryable. The words come from the
/// instrumented client and never hold the URL (a signed URL's query is a credential).
fn download_broke(e: OAuthError) -> PublishError {
    if let OAuthError::NotPossible(why) = &e {
        // Refused by the outbound policy while connecting or redirecting: final.
        let mut d = oauth_diagnosis(OAuthError::NotPossible(format!(
            "The media URL is not fetched: {why}."
        )));
        d.retryable = false;
        return failed(d);
    }
    let mut d = oauth_diagnosis(e);
    d.retryable = true;
    d.cause = "The media file could not be downloaded from its URL.".to_string();
    failed(d)
}

fn too_large(spec: &PlatformSpec, limit: u64) -> PublishError {
    refuse(
        spec,
        Category::ContentRejected,
        format!(
            "The media file is larger than {limit} bytes, the most fetched for it on {}.",
            spec.display_name
        ),
    )
}

/// The most bytes taken from a media URL for an image on `spec`'s platform: its documented
/// image size limit (catalog `[content] image_max_bytes`, e.g. X 5 MB), else
/// [`MAX_MEDIA_BYTES`]. A download stops as soon as it passes it.
pub fn image_limit(spec: &PlatformSpec) -> u64 {
    spec.content
        .image_max_bytes
        .map_or(MAX_MEDIA_BYTES, |n| n.min(MAX_MEDIA_BYTES))
}

/// `GET url` (with `Range: bytes=from-(to-1)` when `range` is given), its status checked.
/// Sent through [`PlatformHttp::send_streamed`], so it has the span and duration sample of
/// every platform call (call `media_download`; host and path template, never the query).
async fn get_media(
    http: &PlatformHttp,
    spec: &PlatformSpec,
    url: &str,
    range: Option<(u64, u64)>,
) -> Result<StreamedResponse, PublishError> {
    let mut req = user_request(http, spec, reqwest::Method::GET, url).await?;
    if let Some((from, to)) = range {
        req = req.header(
            reqwest::header::RANGE,
            format!("bytes={from}-{}", to.saturating_sub(1)),
        );
    }
    let resp = http
        .send_streamed(spec, "media_download", req)
        .await
        .map_err(download_broke)?;
    check_media_status(spec, resp)
}

/// A request to a media URL (chosen by the post's author) through the outbound policy
/// ([`switchboard_oauth::outbound`]): refused, before anything is sent, when it names or
/// resolves to a non-public address outside the allowed origins (`invalid_request`, not
/// retryable, saying why); the client's own resolver checks the name again when connecting.
async fn user_request(
    http: &PlatformHttp,
    spec: &PlatformSpec,
    method: reqwest::Method,
    url: &str,
) -> Result<RequestBuilder, PublishError> {
    let refused = |why: switchboard_oauth::outbound::Refused| {
        refuse(
            spec,
            Category::InvalidRequest,
            format!("The media URL is not fetched: {why}."),
        )
    };
    http.outbound().check(url).await.map_err(refused)?;
    http.user_request(method, url).map_err(refused)
}

/// A media URL's answer when its status is a success; `network` (retryable) for 5xx and 429,
/// `invalid_request` for other errors.
fn check_media_status(
    spec: &PlatformSpec,
    resp: StreamedResponse,
) -> Result<StreamedResponse, PublishError> {
    let status = resp.status();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        let mut d = Diagnosis::network(
            &spec.id,
            format!("the media URL answered HTTP {}", status.as_u16()),
        );
        d.cause = "The server holding the media file is unavailable.".to_string();
        return Err(failed(d));
    }
    if !status.is_success() {
        return Err(refuse(
            spec,
            Category::InvalidRequest,
            format!(
                "The media URL answered HTTP {}: check that the file is public.",
                status.as_u16()
            ),
        ));
    }
    Ok(resp)
}

/// A whole-file answer streamed into an anonymous temporary file, refused (reading stops) as
/// soon as it passes `limit` bytes, or before reading when `Content-Length` announces more.
async fn to_file(
    spec: &PlatformSpec,
    mut resp: StreamedResponse,
    limit: u64,
) -> Result<MediaFile, PublishError> {
    use tokio::io::AsyncWriteExt as _;
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(too_large(spec, limit));
    }
    let std_file = tempfile::tempfile().map_err(|e| disk_error(spec, &e))?;
    let mut file = tokio::fs::File::from_std(std_file);
    let mut len = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(download_broke)? {
        len += chunk.len() as u64;
        if len > limit {
            return Err(too_large(spec, limit));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| disk_error(spec, &e))?;
    }
    file.flush().await.map_err(|e| disk_error(spec, &e))?;
    tracing::debug!(platform = %spec.id, bytes = len, "media downloaded to a temporary file");
    Ok(MediaFile { file, len })
}

/// The file on this server's disk for the media item at `url`, when `local` has one.
fn local_path<'l>(local: &'l [LocalMedia], url: &str) -> Option<&'l std::path::Path> {
    local
        .iter()
        .find(|l| l.url == url)
        .map(|l| l.path.as_path())
}

/// A media file on this server's disk, opened for reading: size from its metadata, refused
/// when larger than [`MAX_MEDIA_BYTES`]. No platform call (no `media_download` span or sample);
/// a debug event says the file was read locally.
async fn open_local(
    spec: &PlatformSpec,
    path: &std::path::Path,
    limit: u64,
) -> Result<MediaFile, PublishError> {
    let file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(refuse(
                spec,
                Category::InvalidRequest,
                "The uploaded media file is no longer on this server; upload it again.",
            ))
        }
        Err(e) => return Err(local_error(spec, &e)),
    };
    let len = file
        .metadata()
        .await
        .map_err(|e| local_error(spec, &e))?
        .len();
    if len > limit {
        return Err(too_large(spec, limit));
    }
    tracing::debug!(platform = %spec.id, bytes = len, "media read from local disk");
    Ok(MediaFile { file, len })
}

/// `network` (retryable): the uploaded file could not be read (the words of the I/O error,
/// which carry no path).
fn local_error(spec: &PlatformSpec, e: &std::io::Error) -> PublishError {
    let mut d = Diagnosis::network(&spec.id, format!("uploaded media file: {e}"));
    d.cause = "The uploaded media file could not be read on this server.".to_string();
    failed(d)
}

/// Downloads a public media URL (the content's `media[].url`) to a temporary file, streaming
/// it: at most one network chunk is in memory at a time. When `local` has a file for `url`
/// (an upload in `media_dir`), that file is opened instead, without HTTP.
///
/// # Errors
/// `Failed`: `network` (retryable) when it could not be fetched, answered 5xx or 429, broke off,
/// or the temporary file could not be written; `invalid_request` (not retryable) when it
/// answered another error status; `content_rejected` when it is larger than
/// [`MAX_MEDIA_BYTES`] (refused from `Content-Length` before reading when announced).
pub async fn download_file(
    http: &PlatformHttp,
    spec: &PlatformSpec,
    local: &[LocalMedia],
    url: &str,
) -> Result<MediaFile, PublishError> {
    download_limited(http, spec, local, url, MAX_MEDIA_BYTES).await
}

/// [`download_file`] stopping at `limit` bytes.
async fn download_limited(
    http: &PlatformHttp,
    spec: &PlatformSpec,
    local: &[LocalMedia],
    url: &str,
    limit: u64,
) -> Result<MediaFile, PublishError> {
    if let Some(path) = local_path(local, url) {
        return open_local(spec, path, limit).await;
    }
    let resp = get_media(http, spec, url, None).await?;
    to_file(spec, resp, limit).await
}

/// An image downloaded to a temporary file, stopping at the platform's image size limit
/// ([`image_limit`]): send it with [`MediaFile::into_body`], never whole in memory.
///
/// # Errors
/// As [`download_file`]; `content_rejected` past [`image_limit`].
pub async fn download_image(
    http: &PlatformHttp,
    spec: &PlatformSpec,
    local: &[LocalMedia],
    url: &str,
) -> Result<MediaFile, PublishError> {
    download_limited(http, spec, local, url, image_limit(spec)).await
}

/// Bytes `from..to` (end excluded) of the file at a public media URL, and the file's whole size
/// now: one chunk of an upload. Asked with `Range`; a `206` whose `Content-Range` is exactly that
/// range is read into memory (at most `to - from` bytes); a server that ignores `Range` (`200`)
/// has its answer streamed into a temporary file and the range read from it. Compare the size
/// with the one announced to the platform before using the bytes: they are empty when the range
/// lies outside the file or is empty (`from >= to`).
///
/// # Errors
/// As [`download_file`]; `network` (retryable) when a `206` answer is shorter than the range.
pub async fn download_range(
    http: &PlatformHttp,
    spec: &PlatformSpec,
    local: &[LocalMedia],
    url: &str,
    from: u64,
    to: u64,
) -> Result<(Vec<u8>, u64), PublishError> {
    if let Some(path) = local_path(local, url) {
        let mut file = open_local(spec, path, MAX_MEDIA_BYTES).await?;
        let total = file.len();
        if from > to || to > total {
            return Ok((Vec::new(), total));
        }
        return Ok((file.read_range(spec, from, to).await?, total));
    }
    // An empty range still learns the size (from the first byte's Content-Range).
    let (rf, rt) = if from < to { (from, to) } else { (0, 1) };
    let mut resp = get_media(http, spec, url, Some((rf, rt))).await?;
    if resp.status() == StatusCode::PARTIAL_CONTENT {
        let range = resp
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_content_range);
        match range {
            Some((a, b, total)) if a == rf && b + 1 == rt => {
                let want = (rt - rf) as usize;
                let mut buf = Vec::with_capacity(want);
                while let Some(chunk) = resp.chunk().await.map_err(download_broke)? {
                    if buf.len() + chunk.len() > want {
                        return Err(refuse(
                            spec,
                            Category::InvalidRequest,
                            "The media URL answered more bytes than the range it announced.",
                        ));
                    }
                    buf.extend_from_slice(&chunk);
                }
                if buf.len() != want {
                    let mut d = Diagnosis::network(&spec.id, "the media range broke off");
                    d.cause = "The media file could not be downloaded from its URL.".to_string();
                    return Err(failed(d));
                }
                if from >= to {
                    buf.clear();
                }
                return Ok((buf, total));
            }
            // Another range (or an unknown total): fetch the whole file instead.
            _ => {
                drop(resp);
                resp = get_media(http, spec, url, None).await?;
            }
        }
    }
    let mut file = to_file(spec, resp, MAX_MEDIA_BYTES).await?;
    let total = file.len();
    if from > to || to > total {
        return Ok((Vec::new(), total));
    }
    Ok((file.read_range(spec, from, to).await?, total))
}

/// `bytes a-b/total` → `(a, b, total)`; `None` for anything else (`*` totals included).
fn parse_content_range(v: &str) -> Option<(u64, u64, u64)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let (a, b, total) = (
        a.trim().parse().ok()?,
        b.trim().parse().ok()?,
        total.trim().parse().ok()?,
    );
    (a <= b && b < total).then_some((a, b, total))
}

/// The size in bytes of a public media URL's file, for an upload that must announce it: the
/// `Content-Length` of a `HEAD` answer (call `media_head`), else (no or a zero length, or `HEAD`
/// not answered with a success) the length of the file downloaded to a temporary file.
///
/// # Errors
/// As [`download_file`]; `content_rejected` when `HEAD` announces more than
/// [`MAX_MEDIA_BYTES`].
pub async fn media_size(
    http: &PlatformHttp,
    spec: &PlatformSpec,
    local: &[LocalMedia],
    url: &str,
) -> Result<u64, PublishError> {
    if let Some(path) = local_path(local, url) {
        return Ok(open_local(spec, path, MAX_MEDIA_BYTES).await?.len());
    }
    let req = user_request(http, spec, reqwest::Method::HEAD, url).await?;
    let resp = http
        .send_streamed(spec, "media_head", req)
        .await
        .map_err(download_broke)?;
    if resp.status().is_success() {
        // A length of 0 is taken as unknown (some servers announce 0 to HEAD).
        if let Some(n) = resp.content_length().filter(|&n| n > 0) {
            if n > MAX_MEDIA_BYTES {
                return Err(too_large(spec, MAX_MEDIA_BYTES));
            }
            return Ok(n);
        }
    }
    drop(resp);
    Ok(download_file(http, spec, local, url).await?.len())
}

/// The size in bytes of a post's media item: its `size_bytes` when known (uploaded media always
/// carry it), else [`media_size`]. The upload's range reads still compare the file's size with
/// this one, so a wrong `size_bytes` is refused as "the media file changed size".
///
/// # Errors
/// As [`media_size`].
pub async fn known_media_size(
    http: &PlatformHttp,
    spec: &PlatformSpec,
    local: &[LocalMedia],
    media: &switchboard_core::post::Media,
) -> Result<u64, PublishError> {
    match media.size_bytes {
        Some(n) if n > 0 => Ok(n),
        _ => media_size(http, spec, local, &media.url).await,
    }
}

/// Downloads the bytes of an image URL into memory, stopping at the platform's image size limit
/// ([`image_limit`]); prefer [`download_image`], which keeps the file on disk.
///
/// # Errors
/// As [`download_image`].
pub async fn download(
    http: &PlatformHttp,
    spec: &PlatformSpec,
    local: &[LocalMedia],
    url: &str,
) -> Result<Vec<u8>, PublishError> {
    let mut f = download_image(http, spec, local, url).await?;
    let len = f.len();
    f.read_range(spec, 0, len).await
}

/// A publisher's progress type read from the stored [`Progress`] (`Null` → `T::default()`).
///
/// # Errors
/// `Failed` (`invalid_request`) when the stored progress is not of this publisher's shape.
pub fn read_progress<T: DeserializeOwned + Default>(
    spec: &PlatformSpec,
    p: &Progress,
) -> Result<T, PublishError> {
    if p.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(p.clone()).map_err(|e| {
        refuse(
            spec,
            Category::InvalidRequest,
            format!("The stored publishing progress is not readable: {e}"),
        )
    })
}

/// A progress value as stored.
pub fn write_progress<T: Serialize>(t: &T) -> Progress {
    serde_json::to_value(t).expect("progress types are plain structs that serialize to JSON")
}

/// A non-negative integer of a JSON answer (`None` when absent or not a number).
pub fn count(v: &Value, pointer: &str) -> Option<u64> {
    v.pointer(pointer).and_then(Value::as_u64)
}

/// Whether an item the platform says was created at `created` may come from a create call sent
/// at `sent_at` (on the dispatcher's clock): not older than `sent_at` minus
/// [`crate::CHECK_SKEW_SECS`]. `None` (no creation time given) is not taken as a match.
pub fn created_since(created: Option<DateTime<Utc>>, sent_at: DateTime<Utc>) -> bool {
    created.is_some_and(|c| c >= sent_at - Duration::seconds(crate::CHECK_SKEW_SECS))
}

/// An RFC 3339 time of a JSON answer (Facebook's `+0000` offsets accepted).
pub fn time_of(v: &Value, pointer: &str) -> Option<DateTime<Utc>> {
    let s = v.pointer(pointer)?.as_str()?;
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// For [`crate::Publisher::check`]s that look for an item in a list the platform serves: a
/// refusal that retrying cannot fix (403 without the read permission, 404, 400) says nothing
/// about the item, so it becomes `Unknown` ("could not look") rather than a `Failed` that would
/// read as "the platform refused the post"; retryable failures stay `Failed`.
pub fn cannot_look(e: PublishError) -> PublishError {
    match e {
        PublishError::Failed(d) if !d.retryable => PublishError::Unknown(d),
        other => other,
    }
}
