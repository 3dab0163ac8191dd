//! LinkedIn and TikTok publish no machine-readable description of their APIs. Their calls are
//! held against request and response examples copied from their documentation pages (the
//! page is named next to each), completed with the members the same page's field tables
//! document as optional.
//!
//! Checked for each call: an endpoint of the documentation matches (method, host, path);
//! its required query parameters and headers are present and no query parameter is
//! undocumented; every member of the body is a documented member, of the documented JSON type
//! (and value, for enumerations), and the required members are present. For each answer: a
//! documented status; every member is documented, of the documented type; the required
//! members are present; errors have the platform's error shape.

use serde_json::{json, Value};

use super::{query_pairs, Report};

/// One documented endpoint.
pub struct Fixture {
    pub platform: &'static str,
    pub method: &'static str,
    pub host: &'static str,
    /// Path with `{x}` for a variable segment.
    pub path: &'static str,
    /// The documentation page the example and the rules are copied from.
    pub source: &'static str,
    /// Documented query parameters.
    pub query: &'static [&'static str],
    /// A Rest.li action this fixture is for (`?action=`), when one path has several.
    pub action: Option<&'static str>,
    pub query_required: &'static [&'static str],
    pub headers_required: &'static [&'static str],
    /// The documented request body (example ∪ documented optional members), JSON or form
    /// fields as an object; `None` when the endpoint takes no structured body.
    pub request: Option<Value>,
    /// JSON pointers the request body must have.
    pub request_required: &'static [&'static str],
    /// Allowed values of request members (JSON pointer, values).
    pub request_values: &'static [(&'static str, &'static [&'static str])],
    /// The documented success answer (example ∪ documented optional members); `None`: no body.
    pub response: Option<Value>,
    /// JSON pointers every success answer has.
    pub response_required: &'static [&'static str],
    /// Documented success statuses.
    pub statuses: &'static [u16],
}

/// TikTok's error object, present in every answer of the v2 API
/// (<https://developers.tiktok.com/doc/tiktok-api-v2-error-handling>).
fn tiktok_error() -> Value {
    json!({"code": "ok", "message": "", "log_id": "202206221854370101130062072500FFA2"})
}

/// The documented endpoints of LinkedIn and TikTok that Switchboard calls.
pub fn all() -> Vec<Fixture> {
    let li_post = json!({
        "id": "urn:li:share:6844785523593134080",
        "author": "urn:li:organization:5515715",
        "commentary": "Sample text Post",
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": []
        },
        "content": {"media": {"altText": "testing for alt tags", "id": "urn:li:image:C5610AQFw7SrBBsJrCw", "title": "title"}},
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": false,
        "createdAt": 1639672463000_i64,
        "lastModifiedAt": 1639672463000_i64,
        "publishedAt": 1639672463000_i64,
        "lifecycleStateInfo": {"isEditedByAuthor": false},
        "reshareContext": {"parent": "urn:li:share:1", "root": "urn:li:share:1"}
    });
    let tiktok_video = json!({
        "id": "7077642457847994444",
        "create_time": 1647951396_i64,
        "cover_image_url": "https://p16-sign.tiktokcdn-us.com/cover.jpeg",
        "share_url": "https://www.tiktok.com/@scout2015/video/7077642457847994444",
        "video_description": "a #funny video",
        "duration": 9,
        "height": 1280,
        "width": 720,
        "title": "a video",
        "embed_html": "<blockquote></blockquote>",
        "embed_link": "https://www.tiktok.com/embed/v2/7077642457847994444",
        "like_count": 6,
        "comment_count": 0,
        "share_count": 0,
        "view_count": 37
    });
    vec![
        // ---------------------------------------------------------------- LinkedIn
        Fixture {
            platform: "linkedin",
            method: "POST",
            host: "www.linkedin.com",
            path: "/oauth/v2/accessToken",
            // Step 3 (exchange) and the refresh of programmatic refresh tokens; the OpenID
            // page's example adds `token_type` and `id_token`.
            source: "https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow#step-3-exchange-authorization-code-for-an-access-token \
                     https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens \
                     https://learn.microsoft.com/en-us/linkedin/consumer/integrations/self-serve/sign-in-with-linkedin-v2",
            action: None,
            query: &[],
            query_required: &[],
            headers_required: &[],
            request: Some(json!({
                "grant_type": "authorization_code", "code": "AQTQmah11lalyH65DAIivsjsAQV5P-1VTVVebnLl_SCiyMXoIjDmJ4s6rO1VBGP5Hx2542KaR_eNawkrWiCiAGxIaV-TCK-mkxDISDak08tdaBzgUYfnTJL1fHRoDWCcC2L6LXBCR_z2XHzeWSuqTkR1_jO8CeV9E_WshsJBgE-PWElyvsmfuEXLQbCLfj8CHasuLafFpGb0glO4d7M",
                "redirect_uri": "https://dev.example.com/auth/linkedin/callback",
                "client_id": "123456789abcdef", "client_secret": "shhdonottell",
                "refresh_token": "AQWAft_WjYZKwuWXLC5hQlghgTam-tuT8CvFej9-XxGyqeER_7jTr8HmjiGjqil13i7gMFjyDxh1g7C_G1gyTZmfcD0Bo2oEHofNAkr_76mSk84sppsGbygwW-5oLsb_OH_EXADPIFo0kppznrK55VMIBv_d7SINunt-7DtXCRAv0YnET5KroQOlmAhc1oFRpSm9zZ_bvYL2A-v3ofbLQPZqCJF7oXHYLLYHVyWVh0pAKMk6ZBgODfQpFqBdOSaa0nWZbNSVh4Yc9Wjtrc3IY5lhUb29P46Yq4Yn-nMbvpxLXqKqxqfaqPeXx2H4ig8s5XzcHpYVMfI3dUzd3uMy-mr3ZbGdQ"
            })),
            request_required: &["/grant_type", "/client_id", "/client_secret"],
            request_values: &[("/grant_type", &["authorization_code", "refresh_token"])],
            response: Some(json!({
                "access_token": "AQUvlL_DYEzvT2wz1QJiEPeLioeA",
                "expires_in": 5184000,
                "scope": "r_basicprofile",
                "refresh_token": "AQWAft_WjYZKwuWXLC5hQlghgTam",
                "refresh_token_expires_in": 525600,
                "token_type": "Bearer",
                "id_token": "eyJ6aXAiOiJERUYiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoiZDM"
            })),
            response_required: &["/access_token", "/expires_in"],
            statuses: &[200],
        },
        Fixture {
            platform: "linkedin",
            method: "GET",
            host: "api.linkedin.com",
            path: "/v2/userinfo",
            source: "https://learn.microsoft.com/en-us/linkedin/consumer/integrations/self-serve/sign-in-with-linkedin-v2#api-request-to-retreive-member-details",
            action: None,
            query: &[],
            query_required: &[],
            headers_required: &["authorization"],
            request: None,
            request_required: &[],
            request_values: &[],
            response: Some(json!({
                "sub": "782bbtaQ",
                "name": "John Doe",
                "given_name": "John",
                "family_name": "Doe",
                "picture": "https://media.licdn-ei.com/dms/image/C5F03AQHqK8v7tB1HCQ/profile-displayphoto-shrink_100_100/0/",
                "locale": "en-US",
                "email": "doe@email.com",
                "email_verified": true
            })),
            response_required: &["/sub"],
            statuses: &[200],
        },
        Fixture {
            platform: "linkedin",
            method: "POST",
            host: "api.linkedin.com",
            path: "/rest/images",
            source: "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api#initialize-image-upload",
            action: None,
            query: &["action"],
            query_required: &["action"],
            headers_required: &["linkedin-version", "x-restli-protocol-version", "authorization"],
            request: Some(json!({"initializeUploadRequest": {"owner": "urn:li:organization:5515715", "mediaLibraryMetadata": {"associatedAccount": "urn:li:sponsoredAccount:1", "assetName": "x"}}})),
            request_required: &["/initializeUploadRequest/owner"],
            request_values: &[],
            response: Some(json!({"value": {
                "uploadUrlExpiresAt": 1650567510704_i64,
                "uploadUrl": "https://www.linkedin.com/dms-uploads/C4E10AQFoyyAjHPMQuQ/uploaded-image/0?ca=vector_ads&cn=uploads&m=AQJbrN86Zm265gAAAYBAAAAg",
                "image": "urn:li:image:C4E10AQFoyyAjHPMQuQ"
            }})),
            response_required: &["/value/uploadUrl", "/value/image"],
            statuses: &[200],
        },
        Fixture {
            platform: "linkedin",
            method: "GET",
            host: "api.linkedin.com",
            path: "/rest/images/{urn}",
            source: "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api#get-a-single-image",
            action: None,
            query: &[],
            query_required: &[],
            headers_required: &["linkedin-version", "authorization"],
            request: None,
            request_required: &[],
            request_values: &[],
            response: Some(json!({
                "owner": "urn:li:organization:2414183",
                "status": "AVAILABLE",
                "downloadUrlExpiresAt": 1650747600000_i64,
                "downloadUrl": "https://media.licdn.com/dms/image/C4E10AQFoyyAjHPMQuQ/image-shrink_1280/0/",
                "id": "urn:li:image:C4E10AQFoyyAjHPMQuQ",
                "mediaLibraryStatus": "READY",
                "aspectRatioHeight": 9.0,
                "aspectRatioWidth": 16.0
            })),
            response_required: &["/id", "/status"],
            statuses: &[200],
        },
        Fixture {
            platform: "linkedin",
            method: "PUT",
            host: "www.linkedin.com",
            path: "/dms-uploads/{asset}",
            // `curl -i --upload-file /Users/peter/Desktop/superneatimage.png -H 'Authorization: Bearer …' '{uploadUrl}'` → 201.
            source: "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api#upload-the-image",
            action: None,
            query: &["ca", "cn", "m", "app", "sync", "v", "t"],
            query_required: &[],
            headers_required: &[],
            request: None,
            request_required: &[],
            request_values: &[],
            response: None,
            response_required: &[],
            statuses: &[200, 201],
        },
        Fixture {
            platform: "linkedin",
            method: "POST",
            host: "api.linkedin.com",
            path: "/rest/videos",
            source: "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api#initialize-video-upload",
            action: Some("initializeUpload"),
            query: &["action"],
            query_required: &["action"],
            headers_required: &["linkedin-version", "x-restli-protocol-version", "authorization"],
            request: Some(json!({
                "initializeUploadRequest": {"owner": "urn:li:organization:2414183", "fileSizeBytes": 1055736, "uploadCaptions": false, "uploadThumbnail": false}
            })),
            request_required: &["/initializeUploadRequest/owner", "/initializeUploadRequest/fileSizeBytes"],
            request_values: &[],
            response: Some(json!({"value": {
                "uploadUrlsExpireAt": 1649806276834_i64,
                "video": "urn:li:video:C5505AQH-oV1qvnFtKA",
                "uploadInstructions": [{"uploadUrl": "https://www.linkedin.com/dms-uploads/C5505AQH-oV1qvnFtKA/ads-uploadedVideo/0?ca=vector_ads&cn=uploads&m=AQ", "lastByte": 1055735, "firstByte": 0}],
                "uploadToken": "",
                "captionsUploadUrl": "https://www.linkedin.com/dms-uploads/c",
                "thumbnailUploadUrl": "https://www.linkedin.com/dms-uploads/t"
            }})),
            response_required: &["/value/video", "/value/uploadInstructions"],
            statuses: &[200],
        },
        Fixture {
            platform: "linkedin",
            method: "POST",
            host: "api.linkedin.com",
            path: "/rest/videos",
            // "Finalize Video Upload": 200, no body.
            source: "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api#finalize-video-upload",
            action: Some("finalizeUpload"),
            query: &["action"],
            query_required: &["action"],
            headers_required: &["linkedin-version", "x-restli-protocol-version", "authorization"],
            request: Some(json!({
                "finalizeUploadRequest": {"video": "urn:li:video:C5505AQH-oV1qvnFtKA", "uploadToken": "", "uploadedPartIds": ["/ETag1"]}
            })),
            request_required: &["/finalizeUploadRequest/video", "/finalizeUploadRequest/uploadedPartIds"],
            request_values: &[],
            response: None,
            response_required: &[],
            statuses: &[200],
        },
        Fixture {
            platform: "linkedin",
            method: "PUT",
            host: "www.linkedin.com",
            path: "/dms-uploads/{asset}/parts/{part}",
            // Each part `PUT` to its `uploadUrl`; the answer's `ETag` is the part id.
            source: "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api#upload-the-video",
            action: None,
            query: &["ca", "cn", "m", "app", "sync", "v", "t"],
            query_required: &[],
            headers_required: &[],
            request: None,
            request_required: &[],
            request_values: &[],
            response: None,
            response_required: &[],
            statuses: &[200, 201],
        },
        Fixture {
            platform: "linkedin",
            method: "GET",
            host: "api.linkedin.com",
            path: "/rest/videos/{urn}",
            source: "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api#get-a-video",
            action: None,
            query: &[],
            query_required: &[],
            headers_required: &["linkedin-version", "authorization"],
            request: None,
            request_required: &[],
            request_values: &[],
            response: Some(json!({
                "owner": "urn:li:organization:2414183",
                "id": "urn:li:video:C5505AQH-oV1qvnFtKA",
                "status": "AVAILABLE",
                "duration": 15,
                "aspectRatioWidth": 16.0,
                "aspectRatioHeight": 9.0,
                "downloadUrl": "https://media.licdn.com/dms/video/x",
                "downloadUrlExpiresAt": 1650747600000_i64,
                "thumbnail": "https://media.licdn.com/dms/image/x",
                "processingFailureReason": "x",
                "mediaLibraryStatus": "READY"
            })),
            response_required: &["/id", "/status"],
            statuses: &[200],
        },
        Fixture {
            platform: "linkedin",
            method: "POST",
            host: "api.linkedin.com",
            path: "/rest/posts",
            // "Create a post" examples (text, single image, video): 201, the post URN in
            // `x-restli-id`, no body.
            source: "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api#create-a-post",
            action: None,
            query: &[],
            query_required: &[],
            headers_required: &["linkedin-version", "x-restli-protocol-version", "authorization"],
            request: Some(li_post.clone()),
            request_required: &[
                "/author",
                "/commentary",
                "/visibility",
                "/distribution/feedDistribution",
                "/lifecycleState",
            ],
            request_values: &[
                ("/visibility", &["PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"]),
                ("/lifecycleState", &["PUBLISHED", "DRAFT"]),
                ("/distribution/feedDistribution", &["MAIN_FEED", "NONE"]),
            ],
            response: None,
            response_required: &[],
            statuses: &[201],
        },
        Fixture {
            platform: "linkedin",
            method: "GET",
            host: "api.linkedin.com",
            path: "/rest/posts",
            source: "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api#find-posts-by-account",
            action: None,
            query: &["author", "q", "count", "start", "sortBy", "viewContext"],
            query_required: &["author", "q"],
            headers_required: &["linkedin-version", "x-restli-protocol-version", "authorization"],
            request: None,
            request_required: &[],
            request_values: &[],
            response: Some(json!({
                "paging": {"start": 0, "count": 10, "links": [{"type": "application/json", "rel": "next", "href": "/rest/posts?q=author&start=10"}], "total": 1},
                "elements": [li_post]
            })),
            response_required: &["/elements"],
            statuses: &[200],
        },
        Fixture {
            platform: "linkedin",
            method: "GET",
            host: "api.linkedin.com",
            path: "/rest/socialActions/{urn}",
            source: "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/network-update-social-actions#retrieve-social-actions",
            action: None,
            query: &[],
            query_required: &[],
            headers_required: &["linkedin-version", "authorization"],
            request: None,
            request_required: &[],
            request_values: &[],
            response: Some(json!({
                "commentsSummary": {"selectedComments": [], "aggregatedTotalComments": 0, "totalFirstLevelComments": 0},
                "target": "urn:li:ugcPost:6740714473693716480",
                "likesSummary": {"selectedLikes": [], "likedByCurrentUser": false, "aggregatedTotalLikes": 0, "totalLikes": 0},
                "$URN": "urn:li:socialActivityCounts:urn:li:ugcPost:6740714473693716480"
            })),
            response_required: &["/commentsSummary", "/likesSummary"],
            statuses: &[200],
        },
        // ---------------------------------------------------------------- TikTok
        Fixture {
            platform: "tiktok",
            method: "POST",
            host: "open.tiktokapis.com",
            path: "/v2/oauth/token/",
            source: "https://developers.tiktok.com/doc/oauth-user-access-token-management",
            action: None,
            query: &[],
            query_required: &[],
            headers_required: &[],
            request: Some(json!({
                "client_key": "CLIENT_KEY", "client_secret": "CLIENT_SECRET", "code": "CODE",
                "grant_type": "authorization_code", "redirect_uri": "REDIRECT_URI",
                "code_verifier": "CODE_VERIFIER", "refresh_token": "REFRESH_TOKEN"
            })),
            request_required: &["/client_key", "/client_secret", "/grant_type"],
            request_values: &[("/grant_type", &["authorization_code", "refresh_token"])],
            response: Some(json!({
                "access_token": "act.example12345Example12345Example",
                "expires_in": 86400,
                "open_id": "afd97af1-b87b-48b9-ac98-410aghda5344",
                "refresh_expires_in": 31536000,
                "refresh_token": "rft.example12345Example12345Example",
                "scope": "user.info.basic,video.list",
                "token_type": "Bearer"
            })),
            response_required: &["/access_token", "/expires_in", "/open_id", "/refresh_token", "/scope"],
            statuses: &[200],
        },
        Fixture {
            platform: "tiktok",
            method: "POST",
            host: "open.tiktokapis.com",
            path: "/v2/oauth/revoke/",
            source: "https://developers.tiktok.com/doc/oauth-user-access-token-management#4._revoke_access",
            action: None,
            query: &[],
            query_required: &[],
            headers_required: &[],
            request: Some(json!({"client_key": "CLIENT_KEY", "client_secret": "CLIENT_SECRET", "token": "ACCESS_TOKEN"})),
            request_required: &["/client_key", "/client_secret", "/token"],
            request_values: &[],
            response: None,
            response_required: &[],
            statuses: &[200],
        },
        Fixture {
            platform: "tiktok",
            method: "GET",
            host: "open.tiktokapis.com",
            path: "/v2/user/info/",
            source: "https://developers.tiktok.com/doc/tiktok-api-v2-get-user-info",
            action: None,
            query: &["fields"],
            query_required: &["fields"],
            headers_required: &["authorization"],
            request: None,
            request_required: &[],
            request_values: &[],
            response: Some(json!({
                "data": {"user": {
                    "open_id": "723f24d7-e717-40f8-a2b6-cb8464cd23b4",
                    "union_id": "c9c60f44-a68e-4f5d-84dd-ce22faeb0ba1",
                    "avatar_url": "https://p19-sign.tiktokcdn-us.com/tos-useast5-avt-0068-tx/b17f0e4b3a4f4a50993cf72cda8b88b8~c5_168x168.jpeg",
                    "avatar_url_100": "https://p19-sign.tiktokcdn-us.com/a~c5_100x100.jpeg",
                    "avatar_large_url": "https://p19-sign.tiktokcdn-us.com/a~c5_1080x1080.jpeg",
                    "display_name": "Tik Toker",
                    "bio_description": "bio",
                    "profile_deep_link": "https://vm.tiktok.com/x",
                    "is_verified": false,
                    "username": "tiktoker",
                    "follower_count": 1,
                    "following_count": 1,
                    "likes_count": 1,
                    "video_count": 1
                }},
                "error": tiktok_error()
            })),
            response_required: &["/data/user", "/error/code"],
            statuses: &[200],
        },
        Fixture {
            platform: "tiktok",
            method: "POST",
            host: "open.tiktokapis.com",
            path: "/v2/post/publish/creator_info/query/",
            source: "https://developers.tiktok.com/doc/content-posting-api-reference-query-creator-info",
            action: None,
            query: &[],
            query_required: &[],
            headers_required: &["authorization"],
            request: None,
            request_required: &[],
            request_values: &[],
            response: Some(json!({
                "data": {
                    "creator_avatar_url": "https://lf16-tt4d.tiktokcdn.com/obj/tiktok-open-platform/8d5740ac3844be417beeacd0df75aef1",
                    "creator_username": "tiktok",
                    "creator_nickname": "TikTok Official",
                    "privacy_level_options": ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"],
                    "comment_disabled": false,
                    "duet_disabled": false,
                    "stitch_disabled": true,
                    "max_video_post_duration_sec": 300
                },
                "error": tiktok_error()
            })),
            response_required: &[
                "/data/creator_username",
                "/data/creator_nickname",
                "/data/privacy_level_options",
                "/data/comment_disabled",
                "/data/duet_disabled",
                "/data/stitch_disabled",
                "/data/max_video_post_duration_sec",
                "/error/code",
            ],
            statuses: &[200],
        },
        Fixture {
            platform: "tiktok",
            method: "POST",
            host: "open.tiktokapis.com",
            path: "/v2/post/publish/video/init/",
            source: "https://developers.tiktok.com/doc/content-posting-api-reference-direct-post",
            action: None,
            query: &[],
            query_required: &[],
            headers_required: &["authorization"],
            request: Some(json!({
                "post_info": {
                    "title": "this will be a funny #cat video on your @tiktok #fyp",
                    "privacy_level": "MUTUAL_FOLLOW_FRIENDS",
                    "disable_duet": false,
                    "disable_comment": true,
                    "disable_stitch": false,
                    "video_cover_timestamp_ms": 1000,
                    "brand_content_toggle": false,
                    "brand_organic_toggle": false,
                    "is_aigc": false
                },
                "source_info": {
                    "source": "FILE_UPLOAD",
                    "video_size": 50000123,
                    "chunk_size": 10000000,
                    "total_chunk_count": 5,
                    "video_url": "https://example.verified.domain.com/example_video.mp4"
                }
            })),
            request_required: &["/post_info/privacy_level", "/source_info/source"],
            request_values: &[
                ("/post_info/privacy_level", &["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]),
                ("/source_info/source", &["FILE_UPLOAD", "PULL_FROM_URL"]),
            ],
            response: Some(json!({
                "data": {"publish_id": "v_pub_file~v2-1.123456789", "upload_url": "https://open-upload.tiktokapis.com/video/?upload_id=67890&upload_token=Xza123"},
                "error": tiktok_error()
            })),
            response_required: &["/data/publish_id", "/error/code"],
            statuses: &[200],
        },
        Fixture {
            platform: "tiktok",
            method: "POST",
            host: "open.tiktokapis.com",
            path: "/v2/post/publish/content/init/",
            source: "https://developers.tiktok.com/doc/content-posting-api-reference-photo-post",
            action: None,
            query: &[],
            query_required: &[],
            headers_required: &["authorization"],
            request: Some(json!({
                "post_info": {
                    "title": "funny cat",
                    "description": "this will be a #funny photo on your @tiktok #fyp",
                    "disable_comment": true,
                    "privacy_level": "PUBLIC_TO_EVERYONE",
                    "auto_add_music": true,
                    "brand_content_toggle": false,
                    "brand_organic_toggle": false
                },
                "source_info": {
                    "source": "PULL_FROM_URL",
                    "photo_cover_index": 1,
                    "photo_images": ["https://tiktokcdn.com/obj/example-image-01.webp"]
                },
                "post_mode": "DIRECT_POST",
                "media_type": "PHOTO"
            })),
            request_required: &["/post_info", "/source_info/source", "/source_info/photo_images", "/source_info/photo_cover_index", "/post_mode", "/media_type"],
            request_values: &[
                ("/post_mode", &["DIRECT_POST", "MEDIA_UPLOAD"]),
                ("/media_type", &["PHOTO"]),
                ("/source_info/source", &["PULL_FROM_URL"]),
            ],
            response: Some(json!({"data": {"publish_id": "p_pub_url~v2.123456789"}, "error": tiktok_error()})),
            response_required: &["/data/publish_id", "/error/code"],
            statuses: &[200],
        },
        Fixture {
            platform: "tiktok",
            method: "PUT",
            host: "open-upload.tiktokapis.com",
            path: "/video/",
            source: "https://developers.tiktok.com/doc/content-posting-api-media-transfer-guide",
            action: None,
            query: &["upload_id", "upload_token"],
            query_required: &["upload_id", "upload_token"],
            headers_required: &["content-range", "content-type"],
            request: None,
            request_required: &[],
            request_values: &[],
            response: None,
            response_required: &[],
            statuses: &[201, 206],
        },
        Fixture {
            platform: "tiktok",
            method: "POST",
            host: "open.tiktokapis.com",
            path: "/v2/post/publish/status/fetch/",
            source: "https://developers.tiktok.com/doc/content-posting-api-reference-get-video-status",
            action: None,
            query: &[],
            query_required: &[],
            headers_required: &["authorization"],
            request: Some(json!({"publish_id": "v_pub_url~v2.123456789"})),
            request_required: &["/publish_id"],
            request_values: &[],
            response: Some(json!({
                "data": {
                    "status": "PUBLISH_COMPLETE",
                    "fail_reason": "",
                    "publicaly_available_post_id": [7077642457847994444_i64],
                    "uploaded_bytes": 10000,
                    "downloaded_bytes": 10000
                },
                "error": tiktok_error()
            })),
            response_required: &["/data/status", "/error/code"],
            statuses: &[200],
        },
        Fixture {
            platform: "tiktok",
            method: "POST",
            host: "open.tiktokapis.com",
            path: "/v2/video/query/",
            source: "https://developers.tiktok.com/doc/tiktok-api-v2-video-query",
            action: None,
            query: &["fields"],
            query_required: &["fields"],
            headers_required: &["authorization"],
            request: Some(json!({"filters": {"video_ids": ["7077642457847994444"]}})),
            request_required: &["/filters/video_ids"],
            request_values: &[],
            // The page's `QueryUserVideoResponseData` table also lists `cursor` and `has_more`.
            response: Some(json!({"data": {"videos": [tiktok_video.clone()], "cursor": 0, "has_more": false}, "error": tiktok_error()})),
            response_required: &["/data/videos", "/error/code"],
            statuses: &[200],
        },
        Fixture {
            platform: "tiktok",
            method: "POST",
            host: "open.tiktokapis.com",
            path: "/v2/video/list/",
            source: "https://developers.tiktok.com/doc/tiktok-api-v2-video-list",
            action: None,
            query: &["fields"],
            query_required: &["fields"],
            headers_required: &["authorization"],
            request: Some(json!({"max_count": 20, "cursor": 1643332803000_i64})),
            request_required: &[],
            request_values: &[],
            response: Some(json!({
                "data": {"videos": [tiktok_video], "cursor": 1643332803000_i64, "has_more": false},
                "error": tiktok_error()
            })),
            response_required: &["/data/videos", "/data/has_more", "/error/code"],
            statuses: &[200],
        },
    ]
}

/// Members of `actual` not in `documented`, or of another JSON type (`at` is the pointer).
fn shape(documented: &Value, actual: &Value, at: &str, out: &mut Vec<String>) {
    match (documented, actual) {
        (Value::Object(d), Value::Object(a)) => {
            for (k, v) in a {
                let p = format!("{at}/{k}");
                match d.get(k) {
                    None => out.push(format!("member `{p}` is not documented")),
                    Some(dv) => shape(dv, v, &p, out),
                }
            }
        }
        (Value::Array(d), Value::Array(a)) => {
            if let Some(item) = d.first() {
                for (i, v) in a.iter().enumerate() {
                    shape(item, v, &format!("{at}/{i}"), out);
                }
            }
        }
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        (d, a) => out.push(format!(
            "member `{at}` is {}, documented as {}",
            kind(a),
            kind(d)
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
}

/// Checks the exchanges of LinkedIn and TikTok.
pub struct Fixtures {
    all: Vec<Fixture>,
}

impl Fixtures {
    pub fn load() -> Fixtures {
        Fixtures { all: all() }
    }

    pub fn check(&self, ex: &Value, report: &mut Report) {
        let platform = ex["platform"].as_str().unwrap_or_default();
        let method = ex["method"].as_str().unwrap_or_default();
        let host = ex["host"].as_str().unwrap_or_default();
        let path = ex["path"].as_str().unwrap_or_default();
        let action = query_pairs(ex)
            .into_iter()
            .find(|(k, _)| k == "action")
            .map(|(_, v)| v);
        let Some(f) = self
            .all
            .iter()
            .filter(|f| f.action.is_none_or(|a| action.as_deref() == Some(a)))
            .find(|f| f.method == method && f.host == host && matches(f.path, path))
        else {
            report.call(
                platform,
                &format!("{method} {host}{path}"),
                vec!["no documented endpoint has this method and path".into()],
            );
            return;
        };
        let call = match f.action {
            Some(a) => format!("{method} {host}{}?action={a}", f.path),
            None => format!("{method} {host}{}", f.path),
        };
        let request = &ex["request"];

        let mut problems = Vec::new();
        let query = query_pairs(ex);
        for q in f.query_required {
            if !query.iter().any(|(k, _)| k == q) {
                problems.push(format!("required query parameter `{q}` is missing"));
            }
        }
        for (k, _) in &query {
            if !f.query.contains(&k.as_str()) {
                problems.push(format!("query parameter `{k}` is not documented"));
            }
        }
        for h in f.headers_required {
            if request["headers"][*h].is_null() {
                problems.push(format!("required header `{h}` is missing"));
            }
        }
        let body = if !request["json"].is_null() {
            request["json"].clone()
        } else {
            request["form"].clone()
        };
        match (&f.request, body.is_null()) {
            (Some(doc), false) => {
                shape(doc, &body, "", &mut problems);
                for p in f.request_required {
                    if body.pointer(p).is_none() {
                        problems.push(format!("required member `{p}` is missing"));
                    }
                }
                for (p, allowed) in f.request_values {
                    if let Some(v) = body.pointer(p).and_then(Value::as_str) {
                        if !allowed.contains(&v) {
                            problems.push(format!("`{p}` is {v:?}, not one of {allowed:?}"));
                        }
                    }
                }
            }
            (Some(_), true) if !f.request_required.is_empty() => {
                problems.push("the documented request body is missing".into())
            }
            (None, false) if body.as_object().is_some_and(|m| !m.is_empty()) => {
                problems.push("a body is sent; the endpoint takes none".into())
            }
            _ => {}
        }
        report.call(platform, &call, problems);

        let response = &ex["response"];
        let status = response["status"].as_u64().unwrap_or(0) as u16;
        let json = &response["json"];
        let mut problems = Vec::new();
        if (200..300).contains(&status) {
            if !f.statuses.contains(&status) {
                problems.push(format!("status {status}, documented: {:?}", f.statuses));
            }
            match &f.response {
                Some(doc) => {
                    if json.is_null() {
                        problems.push("no JSON body; one is documented".into());
                    } else {
                        shape(doc, json, "", &mut problems);
                        for p in f.response_required {
                            if json.pointer(p).is_none() {
                                problems.push(format!("documented member `{p}` is missing"));
                            }
                        }
                    }
                }
                None => {
                    if json.as_object().is_some_and(|m| !m.is_empty()) {
                        problems.push(format!("a JSON body where none is documented: {json}"));
                    }
                }
            }
        } else if platform == "tiktok" && f.path != "/v2/oauth/token/" {
            // <https://developers.tiktok.com/doc/tiktok-api-v2-error-handling>
            let e = &json["error"];
            if !e["code"].is_string() || !e["message"].is_string() || !e["log_id"].is_string() {
                problems.push(format!(
                    "error answer without TikTok's `error` object: {json}"
                ));
            }
        } else if platform == "linkedin" && host == "api.linkedin.com" {
            // <https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/error-handling>
            if !json["message"].is_string() || !json["status"].is_number() {
                problems.push(format!(
                    "error answer without LinkedIn's `status` and `message`: {json}"
                ));
            }
        }
        report.answer(platform, &call, problems);
    }

    /// The source pages of the fixtures, for the report.
    pub fn sources(&self) -> Vec<&'static str> {
        self.all.iter().map(|f| f.source).collect()
    }
}
