#!/usr/bin/env bash
# End-to-end smoke test of the oidc-provider test server, with nothing but
# bash, curl, openssl and node (for JSON). Starts server.mjs on a random port,
# walks the authorization code + PKCE flow through the automatic interaction,
# and exercises token, refresh (rotation + replay), userinfo, introspection and
# revocation. Exits non-zero with a FAIL: line on the first broken expectation.
#
# Usage: tests/oidc-provider/smoke.sh      (after `npm ci` in tests/oidc-provider,
#                                           or scripts/install-test-deps.sh)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d)"
SERVER_PIDS=()
REDIRECT_URI="http://127.0.0.1:9/callback" # nothing listens there: we only read Location
CLIENT_ID="smoke-client"
CLIENT_SECRET="smoke-secret"

cleanup() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "$WORK"/server*.err; do
    [ -s "$f" ] || continue
    echo "---- last lines of $(basename "$f") ----" >&2
    tail -n 20 "$f" >&2
  done
  exit 1
}
ok() { echo "ok - $*"; }

for tool in curl openssl node; do
  command -v "$tool" >/dev/null || fail "$tool is required"
done
[ -d "$HERE/node_modules/oidc-provider" ] || fail "run 'npm ci' in $HERE first (or scripts/install-test-deps.sh)"

# json FILE EXPR -> prints the value of a JS expression over the parsed JSON `o`
# (empty string for undefined/null; objects and arrays as JSON).
json() {
  node -e '
    const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const v = (0, eval)("(o) => (" + process.argv[2] + ")")(o);
    process.stdout.write(v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
  ' "$1" "$2"
}

# query_param URL NAME -> decoded value of a query parameter
query_param() {
  node -e 'process.stdout.write(new URL(process.argv[1]).searchParams.get(process.argv[2]) ?? "")' "$1" "$2"
}

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# start_server NAME [ENV=VALUE...] -> sets ISSUER; server stdout/stderr in $WORK/NAME.{out,err}
start_server() {
  local name="$1"; shift
  env PORT=0 CLIENT_ID="$CLIENT_ID" CLIENT_SECRET="$CLIENT_SECRET" REDIRECT_URIS="$REDIRECT_URI" "$@" \
    node "$HERE/server.mjs" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  SERVER_PIDS+=("$!")
  local pid="$!" i
  for i in $(seq 1 200); do
    if [ -s "$WORK/$name.out" ]; then break; fi
    kill -0 "$pid" 2>/dev/null || fail "server $name exited before printing the ready line"
    sleep 0.1
  done
  local line
  line="$(head -n 1 "$WORK/$name.out")"
  [[ "$line" =~ ^OIDC_PROVIDER_READY\ issuer=(http://127\.0\.0\.1:[0-9]+)$ ]] \
    || fail "server $name: unexpected/missing ready line: '$line'"
  ISSUER="${BASH_REMATCH[1]}"
}

# discover -> sets AUTHZ TOKEN USERINFO INTROSPECT REVOKE from $ISSUER
discover() {
  local code
  code="$(curl -sS -o "$WORK/discovery.json" -w '%{http_code}' "$ISSUER/.well-known/openid-configuration")"
  [ "$code" = 200 ] || fail "discovery returned HTTP $code"
  [ "$(json "$WORK/discovery.json" o.issuer)" = "$ISSUER" ] || fail "discovery issuer mismatch"
  AUTHZ="$(json "$WORK/discovery.json" o.authorization_endpoint)"
  TOKEN="$(json "$WORK/discovery.json" o.token_endpoint)"
  USERINFO="$(json "$WORK/discovery.json" o.userinfo_endpoint)"
  INTROSPECT="$(json "$WORK/discovery.json" o.introspection_endpoint)"
  REVOKE="$(json "$WORK/discovery.json" o.revocation_endpoint)"
  local v
  for v in AUTHZ TOKEN USERINFO INTROSPECT REVOKE; do
    [ -n "${!v}" ] || fail "discovery lacks the endpoint for $v"
  done
  [ "$(json "$WORK/discovery.json" 'o.code_challenge_methods_supported.join(" ")')" = "S256" ] \
    || fail "code_challenge_methods_supported is not exactly [S256]"
}

new_pkce() {
  VERIFIER="$(openssl rand 32 | b64url)"
  CHALLENGE="$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | b64url)"
}

# authorize JAR EXTRA_QUERY -> follows the redirect chain with a cookie jar, hop by
# hop, until a Location pointing at REDIRECT_URI; sets FINAL_LOCATION and HOPS.
authorize() {
  local jar="$1" extra="$2" url status location hop
  STATE="st-$(openssl rand -hex 8)"
  url="$AUTHZ?response_type=code&client_id=$CLIENT_ID&redirect_uri=$(node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$REDIRECT_URI")&state=$STATE$extra"
  HOPS=""
  FINAL_LOCATION=""
  for hop in 1 2 3 4 5 6 7 8; do
    read -r status location < <(curl -sS -o "$WORK/body" -b "$jar" -c "$jar" -w '%{http_code} %{redirect_url}\n' "$url")
    HOPS="$HOPS $status"
    case "$status" in 301|302|303|307|308) ;; *) fail "authorization hop $hop: expected a redirect, got HTTP $status from $url: $(head -c 300 "$WORK/body")" ;; esac
    [ -n "$location" ] || fail "authorization hop $hop: redirect without Location"
    if [[ "$location" == "$REDIRECT_URI"* ]]; then
      FINAL_LOCATION="$location"
      return 0
    fi
    url="$location"
  done
  fail "no redirect to $REDIRECT_URI after 8 hops (statuses:$HOPS)"
}

# post ENDPOINT OUTFILE CURL_ARGS... -> POST, body to OUTFILE, sets HTTP_STATUS
post() {
  local endpoint="$1" out="$2"; shift 2
  HTTP_STATUS="$(curl -sS -o "$out" -w '%{http_code}' -X POST "$endpoint" "$@")"
}
basic_auth=(-u "$CLIENT_ID:$CLIENT_SECRET")

expect_status() { # expected_status file what
  [ "$HTTP_STATUS" = "$1" ] || fail "$3: expected HTTP $1, got $HTTP_STATUS: $(cat "$2")"
}
expect_error() { # expected_error file what
  [ "$(json "$2" o.error)" = "$1" ] || fail "$3: expected error=$1, got: $(cat "$2")"
}

# ------------------------------------------------------------------------- main server
start_server server
ok "server started, ready line: OIDC_PROVIDER_READY issuer=$ISSUER"

discover
ok "discovery: authorization=${AUTHZ#"$ISSUER"} token=${TOKEN#"$ISSUER"} userinfo=${USERINFO#"$ISSUER"} introspection=${INTROSPECT#"$ISSUER"} revocation=${REVOKE#"$ISSUER"}"

SCOPE="openid offline_access profile email posts.read posts.write"
SCOPE_Q="$(node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$SCOPE")"

# --- authorization request with PKCE S256, login_hint=bob
new_pkce
VERIFIER1="$VERIFIER"
authorize "$WORK/jar1" "&scope=$SCOPE_Q&code_challenge=$CHALLENGE&code_challenge_method=S256&login_hint=bob"
CODE="$(query_param "$FINAL_LOCATION" code)"
[ -n "$CODE" ] || fail "no code in final redirect: $FINAL_LOCATION"
[ "$(query_param "$FINAL_LOCATION" state)" = "$STATE" ] || fail "state not echoed back: $FINAL_LOCATION"
[ "$(query_param "$FINAL_LOCATION" iss)" = "$ISSUER" ] || fail "iss (RFC 9207) missing/wrong: $FINAL_LOCATION"
ok "authorization code flow: redirect statuses:$HOPS -> redirect_uri with code, state and iss"

# --- code exchange, client_secret_basic + code_verifier
post "$TOKEN" "$WORK/tok1.json" "${basic_auth[@]}" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$VERIFIER1"
expect_status 200 "$WORK/tok1.json" "code exchange"
AT1="$(json "$WORK/tok1.json" o.access_token)"
RT1="$(json "$WORK/tok1.json" o.refresh_token)"
[ -n "$AT1" ] || fail "no access_token: $(cat "$WORK/tok1.json")"
[ -n "$RT1" ] || fail "no refresh_token: $(cat "$WORK/tok1.json")"
[ "$(json "$WORK/tok1.json" o.token_type)" = "Bearer" ] || fail "token_type is not Bearer"
[ -n "$(json "$WORK/tok1.json" o.id_token)" ] || fail "no id_token for scope openid"
for s in $SCOPE; do
  [[ " $(json "$WORK/tok1.json" o.scope) " == *" $s "* ]] || fail "granted scope lacks $s: $(json "$WORK/tok1.json" o.scope)"
done
ok "code exchange (client_secret_basic + code_verifier): access_token, refresh_token, id_token, expires_in=$(json "$WORK/tok1.json" o.expires_in), scope='$(json "$WORK/tok1.json" o.scope)'"

# --- the code is single use
post "$TOKEN" "$WORK/reuse.json" "${basic_auth[@]}" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$VERIFIER1"
expect_status 400 "$WORK/reuse.json" "authorization code reuse"
expect_error invalid_grant "$WORK/reuse.json" "authorization code reuse"
post "$INTROSPECT" "$WORK/in0.json" "${basic_auth[@]}" --data-urlencode "token=$AT1"
[ "$(json "$WORK/in0.json" o.active)" = "false" ] || fail "access token still active after its code was replayed: $(cat "$WORK/in0.json")"
ok "authorization code reuse rejected: invalid_grant, and the tokens already issued from that code are revoked (introspection active=false)"

# The code reuse above revoked that grant (oidc-provider revokes every token of a
# grant whose code is replayed), so run a fresh authorization for the rest.
new_pkce
VERIFIER2="$VERIFIER"
authorize "$WORK/jar1" "&scope=$SCOPE_Q&code_challenge=$CHALLENGE&code_challenge_method=S256&login_hint=bob"
CODE="$(query_param "$FINAL_LOCATION" code)"
post "$TOKEN" "$WORK/tok1.json" "${basic_auth[@]}" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$VERIFIER2"
expect_status 200 "$WORK/tok1.json" "second code exchange"
AT1="$(json "$WORK/tok1.json" o.access_token)"
RT1="$(json "$WORK/tok1.json" o.refresh_token)"
[ -n "$AT1" ] && [ -n "$RT1" ] || fail "second code exchange lacks tokens: $(cat "$WORK/tok1.json")"
ok "second authorization (same cookie jar, existing session; statuses:$HOPS) + code exchange: fresh access_token and refresh_token"

# A session exists now (cookie jar1): a request that needs no new consent (no
# offline_access, already-granted scopes) skips the interaction.
new_pkce
authorize "$WORK/jar1" "&scope=openid%20posts.read&code_challenge=$CHALLENGE&code_challenge_method=S256"
[ -n "$(query_param "$FINAL_LOCATION" code)" ] || fail "no code for the existing session: $FINAL_LOCATION"
ok "existing session, nothing new to consent to: statuses:$HOPS -> code directly"
new_pkce
authorize "$WORK/jar1" "&scope=openid%20posts.read&code_challenge=$CHALLENGE&code_challenge_method=S256&login_hint=carol"
CODE="$(query_param "$FINAL_LOCATION" code)"
post "$TOKEN" "$WORK/carol.json" "${basic_auth[@]}" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$VERIFIER"
expect_status 200 "$WORK/carol.json" "code exchange for login_hint=carol"
HTTP_STATUS="$(curl -sS -o "$WORK/ui_carol.json" -w '%{http_code}' -H "Authorization: Bearer $(json "$WORK/carol.json" o.access_token)" "$USERINFO")"
[ "$(json "$WORK/ui_carol.json" o.sub)" = "carol" ] || fail "login_hint=carol in bob's session gave: $(cat "$WORK/ui_carol.json")"
ok "login_hint=carol in a session of bob: statuses:$HOPS -> new automatic login, sub=carol"

# --- userinfo: account from login_hint
HTTP_STATUS="$(curl -sS -o "$WORK/ui.json" -w '%{http_code}' -H "Authorization: Bearer $AT1" "$USERINFO")"
expect_status 200 "$WORK/ui.json" "userinfo"
[ "$(json "$WORK/ui.json" o.sub)" = "bob" ] || fail "userinfo sub is not bob (login_hint): $(cat "$WORK/ui.json")"
[ "$(json "$WORK/ui.json" o.email)" = "bob@example.test" ] || fail "userinfo lacks email: $(cat "$WORK/ui.json")"
ok "userinfo: $(cat "$WORK/ui.json")"

# --- introspection of the access token
post "$INTROSPECT" "$WORK/in1.json" "${basic_auth[@]}" --data-urlencode "token=$AT1"
expect_status 200 "$WORK/in1.json" "introspection"
[ "$(json "$WORK/in1.json" o.active)" = "true" ] || fail "access token not active: $(cat "$WORK/in1.json")"
[ "$(json "$WORK/in1.json" o.client_id)" = "$CLIENT_ID" ] || fail "introspection client_id mismatch"
[ "$(json "$WORK/in1.json" o.sub)" = "bob" ] || fail "introspection sub mismatch"
ok "introspection of access token: active=true sub=bob token_type=$(json "$WORK/in1.json" o.token_type) scope='$(json "$WORK/in1.json" o.scope)'"

# --- refresh: rotation
post "$TOKEN" "$WORK/tok2.json" "${basic_auth[@]}" \
  --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$RT1"
expect_status 200 "$WORK/tok2.json" "refresh"
AT2="$(json "$WORK/tok2.json" o.access_token)"
RT2="$(json "$WORK/tok2.json" o.refresh_token)"
[ -n "$AT2" ] || fail "refresh returned no access_token"
[ -n "$RT2" ] || fail "refresh returned no refresh_token (rotation off?)"
[ "$RT2" != "$RT1" ] || fail "refresh token was not rotated"
[ "$AT2" != "$AT1" ] || fail "refresh returned the same access token"
ok "refresh_token grant: new access_token and a NEW refresh_token (rotated)"

post "$INTROSPECT" "$WORK/in_rt1.json" "${basic_auth[@]}" --data-urlencode "token=$RT1" --data-urlencode token_type_hint=refresh_token
[ "$(json "$WORK/in_rt1.json" o.active)" = "false" ] || fail "rotated-out refresh token still active: $(cat "$WORK/in_rt1.json")"
ok "introspection of the rotated-out refresh token: active=false"

# --- revocation of an access token
post "$INTROSPECT" "$WORK/in2.json" "${basic_auth[@]}" --data-urlencode "token=$AT2"
[ "$(json "$WORK/in2.json" o.active)" = "true" ] || fail "refreshed access token not active: $(cat "$WORK/in2.json")"
post "$REVOKE" "$WORK/rev.json" "${basic_auth[@]}" --data-urlencode "token=$AT2" --data-urlencode token_type_hint=access_token
expect_status 200 "$WORK/rev.json" "revocation"
post "$INTROSPECT" "$WORK/in3.json" "${basic_auth[@]}" --data-urlencode "token=$AT2"
[ "$(json "$WORK/in3.json" o.active)" = "false" ] || fail "revoked access token still active: $(cat "$WORK/in3.json")"
HTTP_STATUS="$(curl -sS -o "$WORK/ui2.json" -w '%{http_code}' -H "Authorization: Bearer $AT2" "$USERINFO")"
expect_status 401 "$WORK/ui2.json" "userinfo with revoked token"
ok "introspect access token: active=true; revoke: HTTP 200; introspect again: active=false; userinfo with it: HTTP 401"

# --- replay of the old refresh token
post "$TOKEN" "$WORK/replay.json" "${basic_auth[@]}" \
  --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$RT1"
expect_status 400 "$WORK/replay.json" "refresh token replay"
expect_error invalid_grant "$WORK/replay.json" "refresh token replay"
ok "old refresh token rejected: invalid_grant ($(json "$WORK/replay.json" o.error_description))"
post "$TOKEN" "$WORK/after_replay.json" "${basic_auth[@]}" \
  --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$RT2"
expect_status 400 "$WORK/after_replay.json" "refresh after replay detection"
expect_error invalid_grant "$WORK/after_replay.json" "refresh after replay detection"
post "$INTROSPECT" "$WORK/in4.json" "${basic_auth[@]}" --data-urlencode "token=$AT1"
[ "$(json "$WORK/in4.json" o.active)" = "false" ] || fail "grant not revoked after replay: $(cat "$WORK/in4.json")"
ok "replay detection revoked the whole grant: the newest refresh token is invalid_grant too and earlier access tokens are inactive"

# --- PKCE enforcement
authorize "$WORK/jar2" "&scope=$SCOPE_Q"
[ "$(query_param "$FINAL_LOCATION" error)" = "invalid_request" ] || fail "request without code_challenge not rejected: $FINAL_LOCATION"
[ -z "$(query_param "$FINAL_LOCATION" code)" ] || fail "request without code_challenge got a code"
ok "authorization request without code_challenge rejected: error=invalid_request ($(query_param "$FINAL_LOCATION" error_description))"

new_pkce
authorize "$WORK/jar2" "&scope=$SCOPE_Q&code_challenge=$VERIFIER&code_challenge_method=plain"
[ "$(query_param "$FINAL_LOCATION" error)" = "invalid_request" ] || fail "code_challenge_method=plain not rejected: $FINAL_LOCATION"
ok "code_challenge_method=plain rejected: error=invalid_request ($(query_param "$FINAL_LOCATION" error_description))"

new_pkce
authorize "$WORK/jar3" "&scope=openid%20posts.read&code_challenge=$CHALLENGE&code_challenge_method=S256"
CODE="$(query_param "$FINAL_LOCATION" code)"
[ -n "$CODE" ] || fail "no code: $FINAL_LOCATION"
post "$TOKEN" "$WORK/badpkce.json" "${basic_auth[@]}" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$(openssl rand 32 | b64url)"
expect_status 400 "$WORK/badpkce.json" "wrong code_verifier"
expect_error invalid_grant "$WORK/badpkce.json" "wrong code_verifier"
ok "code exchange with a wrong code_verifier rejected: invalid_grant"

# --- default account, no offline_access -> no refresh token; wrong secret
new_pkce
authorize "$WORK/jar4" "&scope=openid%20email%20posts.read&code_challenge=$CHALLENGE&code_challenge_method=S256"
CODE="$(query_param "$FINAL_LOCATION" code)"
post "$TOKEN" "$WORK/badsecret.json" -u "$CLIENT_ID:wrong-secret" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$VERIFIER"
expect_status 401 "$WORK/badsecret.json" "wrong client secret"
expect_error invalid_client "$WORK/badsecret.json" "wrong client secret"
ok "wrong client secret rejected: HTTP 401 invalid_client"
post "$TOKEN" "$WORK/wrongmethod.json" \
  --data-urlencode "client_id=$CLIENT_ID" --data-urlencode "client_secret=$CLIENT_SECRET" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$VERIFIER"
expect_status 401 "$WORK/wrongmethod.json" "client_secret_post against a client_secret_basic client"
expect_error invalid_client "$WORK/wrongmethod.json" "client_secret_post against a client_secret_basic client"
ok "client_secret_post credentials against the client_secret_basic client rejected: HTTP 401 invalid_client"
post "$TOKEN" "$WORK/tok3.json" "${basic_auth[@]}" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$VERIFIER"
expect_status 200 "$WORK/tok3.json" "code exchange without offline_access"
[ -z "$(json "$WORK/tok3.json" o.refresh_token)" ] || fail "refresh_token issued without offline_access"
HTTP_STATUS="$(curl -sS -o "$WORK/ui3.json" -w '%{http_code}' -H "Authorization: Bearer $(json "$WORK/tok3.json" o.access_token)" "$USERINFO")"
expect_status 200 "$WORK/ui3.json" "userinfo (default account)"
[ "$(json "$WORK/ui3.json" o.sub)" = "alice" ] || fail "default account is not alice: $(cat "$WORK/ui3.json")"
ok "no login_hint -> sub=alice; scope without offline_access -> no refresh_token (scope='$(json "$WORK/tok3.json" o.scope)')"

# ------------------------------------------------- client_secret_post + ACCESS_TOKEN_TTL
start_server server_post TOKEN_ENDPOINT_AUTH_METHOD=client_secret_post ACCESS_TOKEN_TTL=120 REFRESH_TOKEN_TTL=600
discover
new_pkce
authorize "$WORK/jar5" "&scope=$SCOPE_Q&code_challenge=$CHALLENGE&code_challenge_method=S256"
CODE="$(query_param "$FINAL_LOCATION" code)"
post "$TOKEN" "$WORK/post_basic.json" "${basic_auth[@]}" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$VERIFIER"
expect_status 401 "$WORK/post_basic.json" "client_secret_basic against a client_secret_post client"
post "$TOKEN" "$WORK/post_ok.json" \
  --data-urlencode "client_id=$CLIENT_ID" --data-urlencode "client_secret=$CLIENT_SECRET" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$VERIFIER"
expect_status 200 "$WORK/post_ok.json" "client_secret_post code exchange"
[ -n "$(json "$WORK/post_ok.json" o.refresh_token)" ] || fail "client_secret_post: no refresh_token"
[ "$(json "$WORK/post_ok.json" o.expires_in)" = "120" ] || fail "ACCESS_TOKEN_TTL=120 not applied: expires_in=$(json "$WORK/post_ok.json" o.expires_in)"
post "$TOKEN" "$WORK/post_refresh.json" \
  --data-urlencode "client_id=$CLIENT_ID" --data-urlencode "client_secret=$CLIENT_SECRET" \
  --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$(json "$WORK/post_ok.json" o.refresh_token)"
expect_status 200 "$WORK/post_refresh.json" "client_secret_post refresh"
post "$INTROSPECT" "$WORK/in_rt_post.json" \
  --data-urlencode "client_id=$CLIENT_ID" --data-urlencode "client_secret=$CLIENT_SECRET" \
  --data-urlencode "token=$(json "$WORK/post_refresh.json" o.refresh_token)"
[ "$(json "$WORK/in_rt_post.json" 'o.active && o.exp - o.iat')" = "600" ] || fail "REFRESH_TOKEN_TTL=600 not applied: $(cat "$WORK/in_rt_post.json")"
ok "TOKEN_ENDPOINT_AUTH_METHOD=client_secret_post: basic rejected (401), post accepted, refresh works; ACCESS_TOKEN_TTL=120 -> expires_in=120; REFRESH_TOKEN_TTL=600 -> refresh token exp-iat=600"

# --- revoking a refresh token revokes its whole grant (access tokens included)
post "$REVOKE" "$WORK/rev_rt.json" \
  --data-urlencode "client_id=$CLIENT_ID" --data-urlencode "client_secret=$CLIENT_SECRET" \
  --data-urlencode "token=$(json "$WORK/post_refresh.json" o.refresh_token)" --data-urlencode token_type_hint=refresh_token
expect_status 200 "$WORK/rev_rt.json" "refresh token revocation"
post "$INTROSPECT" "$WORK/in_post.json" \
  --data-urlencode "client_id=$CLIENT_ID" --data-urlencode "client_secret=$CLIENT_SECRET" \
  --data-urlencode "token=$(json "$WORK/post_refresh.json" o.access_token)"
expect_status 200 "$WORK/in_post.json" "introspection with client_secret_post"
[ "$(json "$WORK/in_post.json" o.active)" = "false" ] || fail "access token still active after its refresh token was revoked: $(cat "$WORK/in_post.json")"
ok "revoking the refresh token (HTTP 200) also deactivated the grant's access token (introspection active=false)"

# ------------------------------------------------------------------ misconfiguration
rc=0
env -u REDIRECT_URIS PORT=0 node "$HERE/server.mjs" >"$WORK/noredirect.out" 2>"$WORK/noredirect.log" || rc=$?
[ "$rc" -ne 0 ] && [ ! -s "$WORK/noredirect.out" ] || fail "server without REDIRECT_URIS did not exit non-zero silently (rc=$rc)"
ok "server without REDIRECT_URIS exits with status $rc: $(cat "$WORK/noredirect.log")"

# ------------------------------------------------------------------ stdout + SIGTERM
for name in server server_post; do
  [ "$(wc -l <"$WORK/$name.out")" -eq 1 ] || fail "$name wrote more than the ready line to stdout: $(cat "$WORK/$name.out")"
done
pid="${SERVER_PIDS[0]}"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || fail "server exited with status $rc on SIGTERM"
SERVER_PIDS=("${SERVER_PIDS[@]:1}")
ok "stdout held only the ready line; SIGTERM -> exit status 0"

echo "PASS: oidc-provider smoke test"
