#!/usr/bin/env bash
# Starts and stops the real servers the tests run against, on 127.0.0.1:
#   sshd  - OpenSSH with its own config, host key and pidfile (needs root: password auth without PAM)
# Usage: scripts/test-servers.sh start|stop
# `start` writes .test-servers/env, which the tests read. Missing servers make those tests fail, never skip.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="$PWD/.test-servers"
SSH_PORT="${DRTEST_SSH_PORT:-22022}"
SSH_USER=drtest
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

case "${1:-}" in
    start)
        mkdir -p "$DIR"
        start_sshd
        cat "$DIR"/env.* > "$DIR/env"
        ;;
    stop)
        stop_sshd
        rm -f "$DIR/env"
        ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
