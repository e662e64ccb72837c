# TLS and basic auth on the metrics endpoint through an exporter web config file.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$STATE/key.pem" -out "$STATE/cert.pem" 2>/dev/null
hash=$(python3 -c 'import crypt; print(crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH)))' 2>/dev/null)
cat >"$STATE/web.yml" <<YML
tls_server_config:
  cert_file: $STATE/cert.pem
  key_file: $STATE/key.pem
basic_auth_users:
  prometheus: '$hash'
YML
echo "basic_auth_users: [not, a, map]" >"$STATE/bad.yml"
check_fails "a bad web config is refused at start" 1 'invalid --web.config.file' "$BIN" daemon --netns "$HOST_NS" --state-dir "$STATE/bad" \
    --bpf-root "$STATE/bpf" --cgroup "$CGROUP" --socket "$STATE/bad.sock" --web.config.file "$STATE/bad.yml"
agent_start --web.config.file "$STATE/web.yml" || { fail "agent starts"; return; }
url=https://127.0.0.1:$METRICS_PORT/metrics
code() { in_host curl -s -o /dev/null -w '%{http_code}' --cacert "$STATE/cert.pem" "$@"; }
check_output "no credentials: 401" '^401$' code "$url"
check_output "a wrong password: 401" '^401$' code -u prometheus:wrong "$url"
check_output "an unknown user: 401" '^401$' code -u other:s3cret "$url"
check_output "the right password over TLS: 200" '^200$' code -u prometheus:s3cret "$url"
check_output "and the metrics" '^bridgeport_build_info' in_host curl -s --cacert "$STATE/cert.pem" -u prometheus:s3cret "$url"
check_output "plain HTTP is not served" '^000$' in_host curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/metrics"
