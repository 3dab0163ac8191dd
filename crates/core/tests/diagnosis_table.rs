//! Table of documented platform error bodies → diagnosis category and retryable flag.
//!
//! Each row names the page its body comes from (the sources listed in `shared/PLATFORMS.md`).
//! Bodies are copied in the shape the page documents; ids and trace ids are shortened.

use switchboard_core::diagnosis::{diagnose, diagnose_call, CallKind, Category};
use Category::*;

/// (platform, HTTP status, body, expected category, expected retryable).
type Row = (&'static str, Option<u16>, &'static str, Category, bool);

const META: &[Row] = &[
    // developers.facebook.com/docs/graph-api/guides/error-handling ("Access token has expired").
    (
        "facebook",
        Some(400),
        r#"{"error":{"message":"Error validating access token: Session has expired on Wednesday, 14-Feb-18 18:00:00 PST. The current time is Thursday, 15-Feb-18 13:46:35 PST.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"H2il2t5bn4e"}}"#,
        TokenExpired,
        false,
    ),
    // …/error-handling, subcode 460: password changed.
    (
        "facebook",
        Some(400),
        r#"{"error":{"message":"Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.","type":"OAuthException","code":190,"error_subcode":460,"fbtrace_id":"A1"}}"#,
        TokenRevoked,
        false,
    ),
    // …/error-handling, subcode 458: the user has not authorized the app (app removed).
    (
        "facebook",
        Some(400),
        r#"{"error":{"message":"Error validating access token: The user has not authorized application 123.","type":"OAuthException","code":190,"error_subcode":458,"fbtrace_id":"A2"}}"#,
        TokenRevoked,
        false,
    ),
    // …/error-handling, subcode 467: invalid access token (user logged out).
    (
        "facebook",
        Some(400),
        r#"{"error":{"message":"Error validating access token: The user is not logged into Facebook.","type":"OAuthException","code":190,"error_subcode":467,"fbtrace_id":"A3"}}"#,
        TokenRevoked,
        false,
    ),
    // developers.facebook.com/docs/graph-api/overview/rate-limiting: code 4, application limit.
    (
        "facebook",
        Some(400),
        r#"{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","is_transient":true,"code":4,"fbtrace_id":"A4"}}"#,
        RateLimited,
        true,
    ),
    // …/rate-limiting: code 17, user request limit.
    (
        "facebook",
        Some(400),
        r#"{"error":{"message":"(#17) User request limit reached","type":"OAuthException","is_transient":true,"code":17,"error_subcode":2446079,"fbtrace_id":"A5"}}"#,
        RateLimited,
        true,
    ),
    // …/rate-limiting: code 32, Page request limit.
    (
        "facebook",
        Some(400),
        r#"{"error":{"message":"(#32) Page request limit reached","type":"OAuthException","code":32,"fbtrace_id":"A6"}}"#,
        RateLimited,
        true,
    ),
    // …/rate-limiting: code 613, calls within one hour exceeded.
    (
        "facebook",
        Some(400),
        r#"{"error":{"message":"(#613) Calls to this api have exceeded the rate limit.","type":"OAuthException","code":613,"fbtrace_id":"A7"}}"#,
        RateLimited,
        true,
    ),
    // …/rate-limiting: code 80001, Pages Business Use Case limit.
    (
        "facebook",
        Some(400),
        r#"{"error":{"message":"(#80001) There have been too many calls to this Page account. Wait a bit and try again.","type":"OAuthException","code":80001,"fbtrace_id":"A8"}}"#,
        RateLimited,
        true,
    ),
    // …/error-handling: code 10, permission denied.
    (
        "facebook",
        Some(403),
        r#"{"error":{"message":"(#10) Application does not have permission for this action","type":"OAuthException","code":10,"fbtrace_id":"A9"}}"#,
        InsufficientScope,
        false,
    ),
    // …/error-handling: codes 200-299, permission (pages_manage_posts not granted).
    (
        "facebook",
        Some(403),
        r#"{"error":{"message":"(#200) The user hasn't authorized the application to perform this action","type":"OAuthException","code":200,"fbtrace_id":"B1"}}"#,
        InsufficientScope,
        false,
    ),
    // …/error-handling: code 368, temporarily blocked for policy violations.
    (
        "facebook",
        Some(400),
        r#"{"error":{"message":"It looks like you were misusing this feature by going too fast. You've been temporarily blocked from using it.","type":"OAuthException","code":368,"error_subcode":1390008,"fbtrace_id":"B2"}}"#,
        ContentRejected,
        false,
    ),
    // …/error-handling: code 506, duplicate post.
    (
        "facebook",
        Some(400),
        r#"{"error":{"message":"(#506) Duplicate status message","type":"OAuthException","code":506,"fbtrace_id":"B3"}}"#,
        DuplicateContent,
        false,
    ),
    // developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow: code exchange with
    // a different redirect_uri (code 100, subcode 36008).
    (
        "facebook",
        Some(400),
        r#"{"error":{"message":"Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request","type":"OAuthException","code":100,"error_subcode":36008,"fbtrace_id":"B4"}}"#,
        RedirectUriMismatch,
        false,
    ),
    // …/manual-flow: wrong app secret.
    (
        "facebook",
        Some(400),
        r#"{"error":{"message":"Error validating client secret.","type":"OAuthException","code":1,"fbtrace_id":"B5"}}"#,
        InvalidClient,
        false,
    ),
    // …/error-handling: code 2, service temporarily unavailable.
    (
        "facebook",
        Some(500),
        r#"{"error":{"message":"An unexpected error has occurred. Please retry your request later.","type":"OAuthException","is_transient":true,"code":2,"fbtrace_id":"B6"}}"#,
        PlatformUnavailable,
        true,
    ),
];

const INSTAGRAM: &[Row] = &[
    // developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/error-codes:
    // 9 / 2207042, the daily publishing cap.
    (
        "instagram",
        Some(400),
        r#"{"error":{"message":"Application request limit reached","type":"OAuthException","code":9,"error_subcode":2207042,"is_transient":false,"error_user_title":"Max number of posts reached","error_user_msg":"You reached maximum number of posts that is allowed to be published by Content Publishing API.","fbtrace_id":"C1"}}"#,
        RateLimited,
        true,
    ),
    // …/error-codes: 352 / 2207026, unsupported video format.
    (
        "instagram",
        Some(400),
        r#"{"error":{"message":"The video format is not supported. Please check spec for supported format","type":"OAuthException","code":352,"error_subcode":2207026,"error_user_title":"Unsupported format","error_user_msg":"The video format is not supported. Please check spec for supported format","fbtrace_id":"C2"}}"#,
        ContentRejected,
        false,
    ),
    // …/error-codes: 25 / 2207050, restricted or ineligible account.
    (
        "instagram",
        Some(400),
        r#"{"error":{"message":"The user is not an Instagram Business","type":"OAuthException","code":25,"error_subcode":2207050,"error_user_title":"Restricted account","error_user_msg":"The Instagram account is restricted.","fbtrace_id":"C3"}}"#,
        AccountNotEligible,
        false,
    ),
    // …/error-codes: 36003 / 2207009, aspect ratio not supported.
    (
        "instagram",
        Some(400),
        r#"{"error":{"message":"The aspect ratio is not supported.","type":"OAuthException","code":36003,"error_subcode":2207009,"error_user_title":"Cannot determine aspect ratio","error_user_msg":"The submitted image with aspect ratio ('0.5') cannot be published. Please submit an image with a valid aspect ratio.","fbtrace_id":"C4"}}"#,
        ContentRejected,
        false,
    ),
    // …/error-codes: -2 / 2207001, server error, retry.
    (
        "instagram",
        Some(500),
        r#"{"error":{"message":"An unexpected error has occurred. Please retry your request later.","type":"OAuthException","code":-2,"error_subcode":2207001,"is_transient":true,"fbtrace_id":"C5"}}"#,
        PlatformUnavailable,
        true,
    ),
    // developers.facebook.com/docs/instagram-platform/reference/refresh_access_token: expired
    // long-lived token on graph.instagram.com.
    (
        "instagram",
        Some(400),
        r#"{"error":{"message":"Error validating access token: Session has expired on Friday, 10-Jan-25 10:00:00 PST.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"C6"}}"#,
        TokenExpired,
        false,
    ),
    // …/business-login: Instagram Login's token endpoint (legacy shape), a used code.
    (
        "instagram",
        Some(400),
        r#"{"error_type":"OAuthException","code":400,"error_message":"Matching code was not found or was already used."}"#,
        TokenRevoked,
        false,
    ),
    // …/business-login: wrong secret (legacy shape).
    (
        "instagram",
        Some(400),
        r#"{"error_type":"OAuthException","code":400,"error_message":"Invalid client secret"}"#,
        InvalidClient,
        false,
    ),
    // …/business-login: redirect_uri not registered for the app (legacy shape).
    (
        "instagram",
        Some(400),
        r#"{"error_type":"OAuthException","code":400,"error_message":"Invalid redirect_uri"}"#,
        RedirectUriMismatch,
        false,
    ),
    // …/business-login: the account is not a tester of the app in development mode.
    (
        "instagram",
        Some(400),
        r#"{"error_type":"OAuthException","code":400,"error_message":"Insufficient developer role"}"#,
        AppNotApproved,
        false,
    ),
];

const X: &[Row] = &[
    // docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token: bad or expired code.
    (
        "twitter",
        Some(400),
        r#"{"error":"invalid_request","error_description":"Value passed for the authorization code was invalid."}"#,
        TokenRevoked,
        false,
    ),
    // Instagram content publishing: a personal account cannot publish (code 10).
    (
        "instagram",
        Some(403),
        r#"{"error":{"message":"(#10) The user is not an Instagram Business or Creator account: personal accounts cannot publish through the API.","type":"OAuthException","code":10,"fbtrace_id":"A1"}}"#,
        AccountNotEligible,
        false,
    ),
    // …/user-access-token: a rotated (single-use) refresh token sent again.
    (
        "twitter",
        Some(400),
        r#"{"error":"invalid_request","error_description":"Value passed for the token was invalid."}"#,
        TokenRevoked,
        false,
    ),
    // …/user-access-token: confidential client without Basic.
    (
        "twitter",
        Some(401),
        r#"{"error":"unauthorized_client","error_description":"Missing valid authorization header"}"#,
        InvalidClient,
        false,
    ),
    // docs.x.com/x-api/fundamentals/response-codes-and-errors: 401 problem with about:blank.
    (
        "twitter",
        Some(401),
        r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#,
        TokenExpired,
        false,
    ),
    // …/response-codes-and-errors: 429.
    (
        "twitter",
        Some(429),
        r#"{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}"#,
        RateLimited,
        true,
    ),
    // Usage cap (docs.x.com/x-api/fundamentals/post-cap; the answer as X sends it:
    // github.com/xdevplatform/xdk/issues/25): a monthly cap, not a rate limit, not retried.
    (
        "twitter",
        Some(429),
        r#"{"title":"UsageCapExceeded","detail":"Usage cap exceeded: Monthly product cap","type":"https://api.twitter.com/2/problems/usage-capped","period":"Monthly","scope":"Product"}"#,
        BillingLimit,
        false,
    ),
    // Pay-per-use credits used up (docs.x.com/x-api/getting-started/pricing): 402.
    (
        "twitter",
        Some(402),
        r#"{"account_id":1243608864848629761,"title":"CreditsDepleted","detail":"Your enrolled account [1243608864848629761] does not have any credits to fulfill this request.","type":"https://api.twitter.com/2/problems/credits"}"#,
        BillingLimit,
        false,
    ),
    // The same without its `type`, as some clients pass it on.
    (
        "twitter",
        Some(402),
        r#"{"title":"CreditsDepleted","detail":"Your enrolled account does not have any credits"}"#,
        BillingLimit,
        false,
    ),
    // …/response-codes-and-errors: client-forbidden (app not in a Project / access level).
    (
        "twitter",
        Some(403),
        r#"{"client_id":"123","detail":"When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project.","registration_url":"https://developer.twitter.com/en/docs/projects/overview","title":"Client Forbidden","required_enrollment":"Appropriate Level of API Access","reason":"client-not-enrolled","type":"https://api.twitter.com/2/problems/client-forbidden"}"#,
        AppNotApproved,
        false,
    ),
    // docs.x.com/x-api/posts/manage-tweets/introduction: duplicate post.
    (
        "twitter",
        Some(403),
        r#"{"detail":"You are not allowed to create a Tweet with duplicate content.","type":"about:blank","title":"Forbidden","status":403}"#,
        DuplicateContent,
        false,
    ),
    // …/response-codes-and-errors: invalid request (text too long).
    (
        "twitter",
        Some(400),
        r#"{"errors":[{"parameters":{"text":["too long"]},"message":"The text field is too long"}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}"#,
        ContentRejected,
        false,
    ),
    // …/response-codes-and-errors: HTTP 200 with partial errors[].
    (
        "twitter",
        Some(200),
        r#"{"data":[{"id":"1","text":"hi"}],"errors":[{"value":"2","detail":"Could not find tweet with ids: [2].","title":"Not Found Error","resource_type":"tweet","parameter":"ids","resource_id":"2","type":"https://api.twitter.com/2/problems/resource-not-found"}]}"#,
        ContentRejected,
        false,
    ),
    // …/response-codes-and-errors: not-authorized-for-resource (missing scope for the endpoint).
    (
        "twitter",
        Some(403),
        r#"{"title":"Forbidden","detail":"You are not permitted to perform this action.","type":"https://api.twitter.com/2/problems/not-authorized-for-resource"}"#,
        InsufficientScope,
        false,
    ),
];

const TIKTOK: &[Row] = &[
    // developers.tiktok.com/doc/tiktok-api-v2-error-handling: access_token_invalid (401).
    (
        "tiktok",
        Some(401),
        r#"{"data":{},"error":{"code":"access_token_invalid","message":"The access token is invalid or not found in the request.","log_id":"20230101"}}"#,
        TokenExpired,
        false,
    ),
    // …/tiktok-api-v2-error-handling: scope_not_authorized (401).
    (
        "tiktok",
        Some(401),
        r#"{"data":{},"error":{"code":"scope_not_authorized","message":"The user did not authorize the scope required for completing this request.","log_id":"2"}}"#,
        InsufficientScope,
        false,
    ),
    // …/tiktok-api-v2-error-handling: rate_limit_exceeded (429).
    (
        "tiktok",
        Some(429),
        r#"{"data":{},"error":{"code":"rate_limit_exceeded","message":"The API rate limit was exceeded. Please try again later.","log_id":"3"}}"#,
        RateLimited,
        true,
    ),
    // developers.tiktok.com/doc/content-posting-api-reference-direct-post: daily post cap.
    (
        "tiktok",
        Some(403),
        r#"{"error":{"code":"spam_risk_too_many_posts","message":"The daily post cap from the current user has been reached.","log_id":"4"}}"#,
        RateLimited,
        true,
    ),
    // …/content-posting-api-reference-direct-post: unaudited app posting publicly.
    (
        "tiktok",
        Some(403),
        r#"{"error":{"code":"unaudited_client_can_only_post_to_private_accounts","message":"Please review our integration guidelines at https://developers.tiktok.com/doc/content-sharing-guidelines/","log_id":"5"}}"#,
        AccountNotEligible,
        false,
    ),
    // …/content-posting-api-reference-direct-post: banned from posting.
    (
        "tiktok",
        Some(403),
        r#"{"error":{"code":"spam_risk_user_banned_from_posting","message":"The user is banned from making new posts.","log_id":"6"}}"#,
        AccountNotEligible,
        false,
    ),
    // …/content-posting-api-reference-direct-post: invalid_params (400).
    (
        "tiktok",
        Some(400),
        r#"{"error":{"code":"invalid_params","message":"The privacy level is not valid.","log_id":"7"}}"#,
        ContentRejected,
        false,
    ),
    // developers.tiktok.com/doc/oauth-error-handling: expired code at the token endpoint.
    (
        "tiktok",
        Some(400),
        r#"{"error":"invalid_grant","error_description":"Authorization code is expired.","log_id":"8"}"#,
        TokenRevoked,
        false,
    ),
    // …/oauth-error-handling: wrong client key or secret.
    (
        "tiktok",
        Some(401),
        r#"{"error":"invalid_client","error_description":"Client key or secret is incorrect.","log_id":"9"}"#,
        InvalidClient,
        false,
    ),
    // …/tiktok-api-v2-error-handling: internal_error (500).
    (
        "tiktok",
        Some(500),
        r#"{"data":{},"error":{"code":"internal_error","message":"Something went wrong. Please try again later.","log_id":"10"}}"#,
        PlatformUnavailable,
        true,
    ),
];

const YOUTUBE: &[Row] = &[
    // developers.google.com/youtube/v3/docs/errors: quotaExceeded (403).
    (
        "youtube",
        Some(403),
        r#"{"error":{"code":403,"message":"The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.","errors":[{"message":"The request cannot be completed because you have exceeded your quota.","domain":"youtube.quota","reason":"quotaExceeded"}]}}"#,
        RateLimited,
        true,
    ),
    // …/docs/errors (videos.insert): uploadLimitExceeded.
    (
        "youtube",
        Some(400),
        r#"{"error":{"code":400,"message":"The user has exceeded the number of videos they may upload.","errors":[{"message":"The user has exceeded the number of videos they may upload.","domain":"youtube.video","reason":"uploadLimitExceeded"}]}}"#,
        RateLimited,
        true,
    ),
    // …/docs/errors: authError (401, invalid credentials).
    (
        "youtube",
        Some(401),
        r#"{"error":{"code":401,"message":"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.","errors":[{"message":"Invalid Credentials","domain":"global","reason":"authError","location":"Authorization","locationType":"header"}],"status":"UNAUTHENTICATED"}}"#,
        TokenExpired,
        false,
    ),
    // …/docs/errors: youtubeSignupRequired (no channel on the Google account).
    (
        "youtube",
        Some(401),
        r#"{"error":{"code":401,"message":"Unauthorized","errors":[{"message":"Unauthorized","domain":"youtube.header","reason":"youtubeSignupRequired","location":"Authorization","locationType":"header"}]}}"#,
        AccountNotEligible,
        false,
    ),
    // …/docs/errors: insufficientPermissions (scope missing).
    (
        "youtube",
        Some(403),
        r#"{"error":{"code":403,"message":"Request had insufficient authentication scopes.","errors":[{"message":"Insufficient Permission","domain":"global","reason":"insufficientPermissions"}],"status":"PERMISSION_DENIED"}}"#,
        InsufficientScope,
        false,
    ),
    // …/docs/errors (videos.insert): invalidTitle.
    (
        "youtube",
        Some(400),
        r#"{"error":{"code":400,"message":"The request metadata specifies an invalid video title.","errors":[{"message":"The request metadata specifies an invalid video title.","domain":"youtube.video","reason":"invalidTitle"}]}}"#,
        ContentRejected,
        false,
    ),
    // developers.google.com/identity/protocols/oauth2 (refresh token expiration).
    (
        "youtube",
        Some(400),
        r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
        TokenRevoked,
        false,
    ),
    // developers.google.com/identity/protocols/oauth2/web-server (redirect_uri_mismatch).
    (
        "youtube",
        Some(400),
        r#"{"error":"redirect_uri_mismatch","error_description":"Bad Request"}"#,
        RedirectUriMismatch,
        false,
    ),
    // …/web-server: unknown client.
    (
        "youtube",
        Some(401),
        r#"{"error":"invalid_client","error_description":"The OAuth client was not found."}"#,
        InvalidClient,
        false,
    ),
    // cloud.google.com/apis/design/errors: the newer form with details[].reason.
    (
        "youtube",
        Some(403),
        r#"{"error":{"code":403,"message":"Request had insufficient authentication scopes.","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ACCESS_TOKEN_SCOPE_INSUFFICIENT","domain":"googleapis.com"}]}}"#,
        InsufficientScope,
        false,
    ),
];

const LINKEDIN: &[Row] = &[
    // learn.microsoft.com/linkedin/shared/api-guide/concepts/error-handling: 65600.
    (
        "linkedin",
        Some(401),
        r#"{"status":401,"serviceErrorCode":65600,"code":"INVALID_ACCESS_TOKEN","message":"Invalid access token"}"#,
        TokenExpired,
        false,
    ),
    // …/error-handling: revoked by the member.
    (
        "linkedin",
        Some(401),
        r#"{"status":401,"serviceErrorCode":65601,"code":"REVOKED_ACCESS_TOKEN","message":"The token used in the request has been revoked by the user"}"#,
        TokenRevoked,
        false,
    ),
    // …/error-handling: ACCESS_DENIED (w_member_social not granted).
    (
        "linkedin",
        Some(403),
        r#"{"status":403,"serviceErrorCode":100,"code":"ACCESS_DENIED","message":"Not enough permissions to access: ugcPosts.CREATE.NO_VERSION"}"#,
        InsufficientScope,
        false,
    ),
    // …/error-handling: ILLEGAL_ARGUMENT.
    (
        "linkedin",
        Some(400),
        r#"{"status":400,"serviceErrorCode":0,"code":"ILLEGAL_ARGUMENT","message":"Unpermitted fields present in REQUEST_BODY: Data Processing Exception while processing fields [/lifecycleStat]"}"#,
        ContentRejected,
        false,
    ),
    // learn.microsoft.com/linkedin/marketing/community-management/shares/posts-api: 422 validation.
    (
        "linkedin",
        Some(422),
        r#"{"message":"ERROR :: /commentary :: Field Value validation failed in REQUEST_BODY: Data Processing Exception while processing fields [/commentary]","status":422}"#,
        ContentRejected,
        false,
    ),
    // …/posts-api: duplicate post.
    (
        "linkedin",
        Some(422),
        r#"{"message":"Content is a duplicate of urn:li:share:7000000000000000000","status":422,"code":"DUPLICATE_POST"}"#,
        DuplicateContent,
        false,
    ),
    // learn.microsoft.com/linkedin/shared/api-guide/concepts/rate-limits: 429.
    (
        "linkedin",
        Some(429),
        r#"{"status":429,"serviceErrorCode":101,"code":"TOO_MANY_REQUESTS","message":"Resource level throttle APPLICATION DAY limit for calls to this resource is reached."}"#,
        RateLimited,
        true,
    ),
    // learn.microsoft.com/linkedin/shared/authentication/authorization-code-flow: the catch-all for
    // a bad code, which names the redirect URI among other causes but is not a redirect mismatch.
    (
        "linkedin",
        Some(400),
        r#"{"error":"invalid_request","error_description":"Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired. Or external member binding exists"}"#,
        TokenRevoked,
        false,
    ),
    // …/authorization-code-flow: wrong client secret.
    (
        "linkedin",
        Some(401),
        r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#,
        InvalidClient,
        false,
    ),
    // …/authorization-code-flow: redirect URI not registered.
    (
        "linkedin",
        Some(400),
        r#"{"error":"invalid_redirect_uri","error_description":"Unable to retrieve access token: invalid redirect uri"}"#,
        RedirectUriMismatch,
        false,
    ),
    // learn.microsoft.com/linkedin/shared/authentication/getting-access: scope of a product the app lacks.
    (
        "linkedin",
        Some(400),
        r#"{"error":"unauthorized_scope_error","error_description":"Scope \"r_organization_social\" is not authorized for your application"}"#,
        AppNotApproved,
        false,
    ),
];

const PINTEREST: &[Row] = &[
    // developers.pinterest.com/docs/api/v5 (Error schema): bad access token on the API.
    (
        "pinterest",
        Some(401),
        r#"{"code":2,"message":"Authentication failed."}"#,
        TokenExpired,
        false,
    ),
    // …/api/v5: the token lacks a scope.
    (
        "pinterest",
        Some(403),
        r#"{"code":3,"message":"Authorization failed."}"#,
        InsufficientScope,
        false,
    ),
    // developers.pinterest.com/docs/reference/rate-limits: 429.
    (
        "pinterest",
        Some(429),
        r#"{"code":8,"message":"You have exceeded your rate limit. Try again later."}"#,
        RateLimited,
        true,
    ),
    // …/api/v5 (pins/create): invalid parameters.
    (
        "pinterest",
        Some(400),
        r#"{"code":1,"message":"Invalid parameters."}"#,
        ContentRejected,
        false,
    ),
    // …/api/v5 (pins/create): board not found.
    (
        "pinterest",
        Some(404),
        r#"{"code":40,"message":"Board not found."}"#,
        ContentRejected,
        false,
    ),
    // …/api/v5: server error.
    (
        "pinterest",
        Some(503),
        r#"{"code":0,"message":"Service unavailable."}"#,
        PlatformUnavailable,
        true,
    ),
];

const RFC6749: &[Row] = &[
    // RFC 6749 §5.2 (token endpoint errors), as any standard provider sends them.
    (
        "custom",
        Some(400),
        r#"{"error":"invalid_grant","error_description":"The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."}"#,
        TokenRevoked,
        false,
    ),
    (
        "custom",
        Some(401),
        r#"{"error":"invalid_client"}"#,
        InvalidClient,
        false,
    ),
    (
        "custom",
        Some(400),
        r#"{"error":"unauthorized_client"}"#,
        InvalidClient,
        false,
    ),
    (
        "custom",
        Some(400),
        r#"{"error":"invalid_scope","error_description":"The requested scope is invalid."}"#,
        InsufficientScope,
        false,
    ),
    (
        "custom",
        Some(400),
        r#"{"error":"unsupported_grant_type"}"#,
        InvalidRequest,
        false,
    ),
    // RFC 6749 §4.1.2.1 (authorization errors), as a redirect query string.
    (
        "custom",
        None,
        "error=access_denied&error_description=The+user+denied+the+request",
        AccessDenied,
        false,
    ),
    (
        "custom",
        None,
        "https://app.example/cb?error=temporarily_unavailable&state=x",
        PlatformUnavailable,
        true,
    ),
    (
        "custom",
        Some(503),
        r#"{"error":"server_error"}"#,
        PlatformUnavailable,
        true,
    ),
];

fn check(rows: &[Row]) {
    for (platform, status, body, category, retryable) in rows {
        let d = diagnose(platform, *status, body);
        assert_eq!(d.category, *category, "{platform} {status:?} {body}");
        assert_eq!(d.retryable, *retryable, "retryable of {platform} {body}");
        assert!(!d.fix.is_empty(), "no fix steps for {body}");
        assert!(
            d.platform_code.is_some(),
            "no platform code kept for {body}"
        );
        if *platform != "custom" {
            assert!(d.docs_url.is_some(), "no docs link for {platform} {body}");
        }
    }
}

#[test]
fn meta_graph_errors() {
    check(META);
}

#[test]
fn instagram_errors() {
    check(INSTAGRAM);
}

#[test]
fn x_errors() {
    check(X);
}

#[test]
fn tiktok_errors() {
    check(TIKTOK);
}

#[test]
fn youtube_errors() {
    check(YOUTUBE);
}

#[test]
fn linkedin_errors() {
    check(LINKEDIN);
}

#[test]
fn pinterest_errors() {
    check(PINTEREST);
}

#[test]
fn rfc6749_errors() {
    check(RFC6749);
}

#[test]
fn pinterest_authentication_failed_on_the_token_endpoint_is_invalid_client() {
    // developers.pinterest.com/docs/getting-started/authentication-and-scopes: the token endpoint
    // without (or with a wrong) Basic header.
    let body = r#"{"code":2,"message":"Authentication failed."}"#;
    let d = diagnose_call("pinterest", CallKind::Token, Some(401), body);
    assert_eq!(d.category, InvalidClient);
    let d = diagnose_call("pinterest", CallKind::Api, Some(401), body);
    assert_eq!(d.category, TokenExpired);
}

#[test]
fn unknown_shapes_keep_the_raw_error() {
    let raw = r#"{"weird":{"thing":1}}"#;
    let d = diagnose("twitter", Some(418), raw);
    assert_eq!(d.category, Unknown);
    assert_eq!(d.platform_message.as_deref(), Some(raw));
    let d = diagnose("linkedin", None, "something broke");
    assert_eq!(d.category, Unknown);
    assert_eq!(d.platform_message.as_deref(), Some("something broke"));
}

#[test]
fn docs_links_prefer_the_category_page() {
    let d = diagnose(
        "facebook",
        Some(400),
        r#"{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","code":4}}"#,
    );
    assert_eq!(
        d.docs_url.as_deref(),
        Some("https://developers.facebook.com/docs/graph-api/overview/rate-limiting")
    );
    let d = diagnose(
        "facebook",
        Some(400),
        r#"{"error":{"message":"(#506) Duplicate status message","type":"OAuthException","code":506}}"#,
    );
    assert_eq!(
        d.docs_url.as_deref(),
        Some("https://developers.facebook.com/docs/graph-api/guides/error-handling")
    );
}

/// X's pay-per-use refusals are told apart and explained in plain words with the fix, and
/// link X's pricing page (catalog `[guide.error_docs]`).
#[test]
fn x_credits_and_usage_cap_say_what_to_do() {
    let d = diagnose(
        "twitter",
        Some(402),
        r#"{"title":"CreditsDepleted","detail":"Your enrolled account [1] does not have any credits to fulfill this request.","type":"https://api.twitter.com/2/problems/credits"}"#,
    );
    assert_eq!(d.category, BillingLimit);
    assert_eq!(d.platform_code.as_deref(), Some("CreditsDepleted"));
    assert!(d.cause.contains("credits are used up"), "{}", d.cause);
    assert!(d.fix[0].contains("buy credits"), "{:?}", d.fix);
    assert_eq!(
        d.docs_url.as_deref(),
        Some("https://docs.x.com/x-api/getting-started/pricing")
    );
    assert!(!d.retryable);

    let d = diagnose(
        "twitter",
        Some(429),
        r#"{"title":"UsageCapExceeded","detail":"Usage cap exceeded: Monthly product cap","type":"https://api.twitter.com/2/problems/usage-capped","period":"Monthly","scope":"Product"}"#,
    );
    assert_eq!(d.category, BillingLimit);
    assert_eq!(d.platform_code.as_deref(), Some("UsageCapExceeded"));
    assert!(d.cause.contains("monthly product usage cap"), "{}", d.cause);
    assert!(d.fix.iter().any(|f| f.contains("resets")), "{:?}", d.fix);
    assert_eq!(
        d.platform_message.as_deref(),
        Some("Usage cap exceeded: Monthly product cap")
    );
    // The prerequisites say so before anyone connects.
    let catalog = switchboard_core::Catalog::builtin().unwrap();
    let x = catalog.get("twitter").unwrap();
    assert!(
        x.requirements
            .iter()
            .any(|r| r.contains("Pay-per-use credits")
                && r.contains("402 CreditsDepleted")
                && r.contains("https://docs.x.com/x-api/getting-started/pricing")),
        "{:?}",
        x.requirements
    );
    // A plain 429 stays a rate limit, retried.
    let d = diagnose(
        "twitter",
        Some(429),
        r#"{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}"#,
    );
    assert_eq!(d.category, RateLimited);
}
