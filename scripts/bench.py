#!/usr/bin/env python3
"""dr-audit benchmark: scan+index of N portal backups against peer listing tools, in one run.

SFTP: dr-audit scan (libssh2) vs OpenSSH `sftp -b` `ls -l` of the same folder.
S3:   dr-audit scan (libcurl) vs `rclone lsf -R` and `aws s3api list-objects-v2` on the same bucket.
Also: unchanged rescan. Index: scan of --index-n (1M) local portal files plus a pgBackRest repository, then
`pairs` and `audit` on that index. Each figure is the median of --runs runs; peak RSS is the largest seen.
Far away (parts s3-far, sftp-far): the same listings through scripts/latency-proxy.py, which holds each chunk a
client sends for --s3-delay (50 ms) or --sftp-delay (25 ms) before passing it on, so a request answered at once on
loopback takes a round trip of a distant server, and requests in flight overlap as they would on a long link.
Verify: `verify` of a pair whose portal run is --verify-mb of .tar.gz archives (a system backup and
--verify-sites sites) on SeaweedFS and on the sshd, against the shell pipeline doing the same work per object
(`curl --aws-sigv4 | gzip -t`, `ssh cat | gzip -t`), both --verify-jobs objects at a time.
Needs the servers of scripts/test-servers.sh (for sftp and s3) and a release build.
"""
import argparse
import base64
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build/release/dr-audit")
WEED = os.path.join(ROOT, ".venv/bin/weed")
AWS = shutil.which("aws", path=os.path.join(ROOT, ".venv/bin")) or shutil.which("aws")

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=100_000)
parser.add_argument("--runs", type=int, default=3)
parser.add_argument("--work", default="/tmp/dr-audit-bench")
parser.add_argument("--index-n", type=int, default=1_000_000)
parser.add_argument("--wal-n", type=int, default=1_000_000)
parser.add_argument("--parts", default="sftp,s3,sftp-far,s3-far,index,wal,verify",
                    help="comma-separated: sftp, s3, sftp-far, s3-far, index, wal, verify")
parser.add_argument("--bucket", default="dr-audit-bench")
parser.add_argument("--s3-delay", type=float, default=0.05)
parser.add_argument("--sftp-delay", type=float, default=0.025)
parser.add_argument("--verify-mb", type=int, default=1024, help="total size of the verified portal archives")
parser.add_argument("--verify-sites", type=int, default=50)
parser.add_argument("--verify-jobs", type=int, default=4)
args = parser.parse_args()
parts = set(args.parts.split(","))


def env_file():
    values = {}
    with open(os.path.join(ROOT, ".test-servers/env")) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            values[k] = v
    return values


E = env_file() if parts & {"sftp", "s3", "sftp-far", "s3-far", "verify"} else {}


class LatencyProxy:
    """scripts/latency-proxy.py in front of a loopback server, for as long as the value lives."""

    def __init__(self, upstream, delay):
        self.process = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts/latency-proxy.py"),
                                         "--upstream", upstream, "--delay", str(delay)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.process.stdout.readline().decode()
        if not line.startswith("ready "):
            sys.exit("bench: latency-proxy.py did not start")
        self.port = int(line.split()[1])

    def stop(self):
        self.process.stdin.close()
        self.process.wait()


def names(n):
    """Realistic portal names: daily runs of one system file and 24 sites."""
    out = []
    day = 0
    while len(out) < n:
        t = time.gmtime(1_577_840_400 + day * 86400)  # 2020-01-01T01:00:00Z
        stamp = time.strftime("%Y%m%d.%H%M", t)
        out.append(f"_portal_system_backup-{stamp}05.tar.gz")
        for i in range(24):
            out.append(f"site{i}.example.com@org{i % 5}@catalog-{i % 3}-{stamp}{10 + i:02d}.tar.gz")
        day += 1
    return out[:n]


def touch(path, size):
    with open(path, "w") as f:
        f.truncate(size)


def make_tree(path, n):
    marker = path.rstrip("/") + ".complete-%d" % n  # beside the folder: inside, it would be listed too
    if os.path.exists(marker):
        return
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    for name in names(n):
        touch(os.path.join(path, name), 1)
    open(marker, "w").close()


def run(cmd, env=None, before=None):
    """Median wall seconds and peak RSS (MB) over --runs runs.
    The RSS comes from GNU time, not from this script's wait4: Linux hands a child the peak RSS of the process it
    was forked from, so this script's own (it grows while it writes a million files) showed as the tool's."""
    walls, peak = [], 0
    rss_file = os.path.join(work, "rss")
    for _ in range(args.runs):
        if before:
            before()
        start = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, env={**os.environ, **(env or {})},
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        walls.append(time.monotonic() - start)
        if p.returncode not in (0, 1, 2):
            sys.exit(f"bench: {' '.join(cmd[:3])} failed: {p.stderr.decode(errors='replace').strip()}")
        with open(rss_file) as f:
            # GNU time writes "Command exited with non-zero status N" first when it did
            peak = max(peak, int(f.read().split()[-1]) / 1024)
    return statistics.median(walls), peak


def write_config(dir, cr, secret, extra=""):
    os.makedirs(dir, exist_ok=True)
    with open(os.path.join(dir, "portal_cr.yaml"), "w") as f:
        f.write(cr)
    with open(os.path.join(dir, "secret.yaml"), "w") as f:
        f.write(secret)
    with open(os.path.join(dir, "dr-audit.yaml"), "w") as f:
        f.write(f"database: ./index.sqlite\nportal:\n  cr: ./portal_cr.yaml\n  secret: ./secret.yaml\n{extra}")
    return os.path.join(dir, "dr-audit.yaml")


def b64(s):
    return base64.b64encode(s.encode()).decode()


def cr(protocol, host, path, port=None):
    return (f"kind: PortalCluster\nmetadata: {{name: portal}}\nspec:\n  originalUID: bench\n  portalBackup:\n"
            f"    protocol: {protocol}\n    host: {host}\n    path: {path}\n    credentials: bench-secret\n"
            + (f"    port: {port}\n" if port else ""))


def remove(path):
    return lambda: os.path.exists(path) and os.remove(path)


rows = []


def report(name, wall, rss, ratio_to=None, goal=None):
    ratio = wall / ratio_to if ratio_to else None
    rows.append((name, wall, rss, ratio, goal))


n = args.n
work = args.work
os.makedirs(work, exist_ok=True)

if parts & {"sftp", "sftp-far"}:
    sftp_dir = os.path.join(E["DRTEST_SSH_HOME"], "dr-audit-bench", "portal")
    print(f"bench: preparing {n} files for SFTP in {sftp_dir}", file=sys.stderr)
    make_tree(sftp_dir, n)
    os.chmod(os.path.dirname(sftp_dir), 0o755)
    key = open(os.path.join(E["DRTEST_SSH_DIR"], "client_key")).read()
    sftp_config = write_config(
        os.path.join(work, "sftp"),
        cr("sftp", "127.0.0.1", sftp_dir, E["DRTEST_SSH_PORT"]),
        f"kind: Secret\nmetadata: {{name: bench-secret}}\ndata:\n  username: {b64(E['DRTEST_SSH_USER'])}\n"
        f"  ssh-privatekey: {b64(key)}\n",
        f"  knownHosts: {E['DRTEST_SSH_DIR']}/known_hosts\n")
    sftp_db = os.path.join(work, "sftp", "index.sqlite")
    batch = os.path.join(work, "sftp.batch")
    with open(batch, "w") as f:
        f.write(f"ls -l {sftp_dir}\n")

if "sftp" in parts:
    # --- SFTP -------------------------------------------------------------------------------------------
    openssh = run(["sftp", "-q", "-b", batch, "-i", os.path.join(E["DRTEST_SSH_DIR"], "client_key"), "-P", E["DRTEST_SSH_PORT"],
                   "-o", f"UserKnownHostsFile={E['DRTEST_SSH_DIR']}/known_hosts", "-o", "StrictHostKeyChecking=yes",
                   f"{E['DRTEST_SSH_USER']}@127.0.0.1"])
    report("OpenSSH sftp ls -l", *openssh)
    scan = run([BIN, "scan", "--config", sftp_config], before=remove(sftp_db))
    report("dr-audit scan+index, SFTP", *scan, ratio_to=openssh[0], goal=("≤ 1.0× OpenSSH sftp", 1.0))
    rescan = run([BIN, "scan", "--config", sftp_config])
    report("dr-audit rescan unchanged, SFTP", *rescan, ratio_to=openssh[0], goal=("≤ 1.1× listing", 1.1))

if "sftp-far" in parts:
    # --- SFTP, 25 ms away -------------------------------------------------------------------------------
    proxy = LatencyProxy(f"127.0.0.1:{E['DRTEST_SSH_PORT']}", args.sftp_delay)
    far = f"{int(args.sftp_delay * 1000)} ms"
    openssh = run(["sftp", "-q", "-b", batch, "-i", os.path.join(E["DRTEST_SSH_DIR"], "client_key"), "-P", str(proxy.port),
                   "-o", f"UserKnownHostsFile={E['DRTEST_SSH_DIR']}/known_hosts", "-o", "StrictHostKeyChecking=yes",
                   "-o", f"HostKeyAlias=[127.0.0.1]:{E['DRTEST_SSH_PORT']}", f"{E['DRTEST_SSH_USER']}@127.0.0.1"])
    report(f"OpenSSH sftp ls -l, {far}", *openssh)
    far_config = write_config(
        os.path.join(work, "sftp-far"),
        cr("sftp", "127.0.0.1", sftp_dir, proxy.port),
        f"kind: Secret\nmetadata: {{name: bench-secret}}\ndata:\n  username: {b64(E['DRTEST_SSH_USER'])}\n"
        f"  ssh-privatekey: {b64(key)}\n",
        f"  hostKeyFingerprint: {E['DRTEST_SSH_FINGERPRINT']}\n")
    far_db = os.path.join(work, "sftp-far", "index.sqlite")
    scan = run([BIN, "scan", "--config", far_config], before=remove(far_db))
    report(f"dr-audit scan+index, SFTP, {far}", *scan, ratio_to=openssh[0], goal=("≤ 0.25× OpenSSH sftp", 0.25))
    proxy.stop()

if parts & {"s3", "s3-far"}:
    bucket = args.bucket
    local = os.path.join(work, "s3-source", "portal")
    make_tree(local, n)
    rclone_env = {"RCLONE_CONFIG_S_TYPE": "s3", "RCLONE_CONFIG_S_PROVIDER": "SeaweedFS",
                  "RCLONE_CONFIG_S_ACCESS_KEY_ID": E["DRTEST_S3_ACCESS_KEY"],
                  "RCLONE_CONFIG_S_SECRET_ACCESS_KEY": E["DRTEST_S3_SECRET_KEY"],
                  "RCLONE_CONFIG_S_ENDPOINT": E["DRTEST_S3_ENDPOINT"]}
    rclone_cmd = ["env", "-u", "AWS_CA_BUNDLE", "rclone", "--config", "/dev/null", "lsf", "-R", "--files-only", f"s:{bucket}/portal"]
    count = subprocess.run(rclone_cmd, env={**os.environ, **rclone_env}, capture_output=True, text=True).stdout.count("\n")
    if count != n:
        print(f"bench: uploading {n} objects to s3://{bucket}/portal (found {count})", file=sys.stderr)
        subprocess.run(["env", "-u", "AWS_CA_BUNDLE", "rclone", "--config", "/dev/null", "purge", f"s:{bucket}"],
                       env={**os.environ, **rclone_env}, capture_output=True)
        subprocess.run(["env", "-u", "AWS_CA_BUNDLE", "rclone", "--config", "/dev/null", "mkdir", f"s:{bucket}"],
                       env={**os.environ, **rclone_env}, check=True)
        subprocess.run([WEED, "filer.copy", "-c", "32", local, f"http://127.0.0.1:8888/buckets/{bucket}/"],
                       check=True, capture_output=True)
    s3_config = write_config(
        os.path.join(work, "s3"),
        cr("objstore", "s3.example.com/us-east-1", f"{bucket}/portal"),
        f"kind: Secret\nmetadata: {{name: bench-secret}}\ndata:\n  username: {b64(E['DRTEST_S3_ACCESS_KEY'])}\n"
        f"  password: {b64(E['DRTEST_S3_SECRET_KEY'])}\n",
        f"  endpoint: {E['DRTEST_S3_ENDPOINT']}\n")
    s3_db = os.path.join(work, "s3", "index.sqlite")

if "s3" in parts:
    # --- S3 ---------------------------------------------------------------------------------------------
    rclone = run(rclone_cmd, env=rclone_env)
    report("rclone lsf -R", *rclone)
    aws = run([AWS, "--endpoint-url", E["DRTEST_S3_ENDPOINT"], "s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "portal/"],
              env={"AWS_ACCESS_KEY_ID": E["DRTEST_S3_ACCESS_KEY"], "AWS_SECRET_ACCESS_KEY": E["DRTEST_S3_SECRET_KEY"],
                   "AWS_DEFAULT_REGION": "us-east-1"})
    report("aws s3api list-objects-v2", *aws)
    scan = run([BIN, "scan", "--config", s3_config], before=remove(s3_db))
    report("dr-audit scan+index, S3 (vs rclone)", *scan, ratio_to=rclone[0], goal=("≤ 1.0× rclone", 1.0))
    report("dr-audit scan+index, S3 (vs awscli)", *scan, ratio_to=aws[0], goal=("≤ 0.33× awscli", 1 / 3))
    rescan = run([BIN, "scan", "--config", s3_config])
    report("dr-audit rescan unchanged, S3 (vs rclone)", *rescan, ratio_to=rclone[0], goal=("≤ 1.1× listing", 1.1))

if "s3-far" in parts:
    # --- S3, 50 ms away ---------------------------------------------------------------------------------
    # The nightly case as for the 1M index: the next day's run (25 files) appears and the oldest day's expires.
    proxy = LatencyProxy(E["DRTEST_S3_ENDPOINT"].split("//", 1)[1], args.s3_delay)
    far = f"{int(args.s3_delay * 1000)} ms"
    far_endpoint = f"http://127.0.0.1:{proxy.port}"
    rclone = run(rclone_cmd, env={**rclone_env, "RCLONE_CONFIG_S_ENDPOINT": far_endpoint})
    report(f"rclone lsf -R, {far}", *rclone)
    far_config = write_config(
        os.path.join(work, "s3-far"),
        cr("objstore", "s3.example.com/us-east-1", f"{bucket}/portal"),
        f"kind: Secret\nmetadata: {{name: bench-secret}}\ndata:\n  username: {b64(E['DRTEST_S3_ACCESS_KEY'])}\n"
        f"  password: {b64(E['DRTEST_S3_SECRET_KEY'])}\n",
        f"  endpoint: {far_endpoint}\n")
    far_db = os.path.join(work, "s3-far", "index.sqlite")
    scan = run([BIN, "scan", "--config", far_config], before=remove(far_db))
    report(f"dr-audit scan+index, S3, {far}", *scan, ratio_to=rclone[0], goal=("≤ 0.5× rclone", 0.5))
    rescan = run([BIN, "scan", "--config", far_config])
    report(f"dr-audit rescan unchanged, S3, {far}", *rescan, ratio_to=rclone[0], goal=("≤ 0.2× rclone", 0.2))
    scanned = far_db + ".scanned"
    shutil.copyfile(far_db, scanned)
    all_names = names(n + 25)
    new_day, old_day = all_names[n:], all_names[:25]
    staging = os.path.join(work, "s3-next-day")
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    for name in new_day:
        touch(os.path.join(staging, name), 1)
    rclone_local = ["env", "-u", "AWS_CA_BUNDLE", "rclone", "--config", "/dev/null"]
    renv = {**os.environ, **rclone_env}

    def shift(forward):
        if forward:
            subprocess.run(rclone_local + ["copy", staging, f"s:{bucket}/portal"], env=renv, check=True)
            for name in old_day:
                subprocess.run(rclone_local + ["deletefile", f"s:{bucket}/portal/{name}"], env=renv, check=True)
        else:
            for name in new_day:
                subprocess.run(rclone_local + ["deletefile", f"s:{bucket}/portal/{name}"], env=renv, check=True)
            for name in old_day:
                touch(os.path.join(staging, name), 1)
            subprocess.run(rclone_local + ["copy", "--include", "_portal_system_backup-20200101*", "--include",
                                           "*-20200101.*", staging, f"s:{bucket}/portal"], env=renv, check=True)

    shift(True)
    nightly = run([BIN, "scan", "--config", far_config], before=lambda: shutil.copyfile(scanned, far_db))
    report(f"dr-audit rescan +1 day -1 day, S3, {far}", *nightly, ratio_to=rclone[0], goal=("≤ 0.25× rclone", 0.25))
    shift(False)
    os.remove(scanned)
    proxy.stop()

# --- Index of 1M objects ----------------------------------------------------------------------------
DAYS = 30
START = 1_790_000_000 - DAYS * 86400  # the 30 days before 2026-09-21


def portal_day(day, n):
    """The portal file names of one day's run: a system backup and one file per site, sites a few seconds apart."""
    t = START + day * 86400
    yield f"_portal_system_backup-{time.strftime('%Y%m%d.%H%M%S', time.gmtime(t))}.tar.gz"
    for i in range(n // DAYS - 1):
        stamp = time.strftime("%Y%m%d.%H%M%S", time.gmtime(t + 10 + i // 100))
        yield f"portal-web.example.com@org{i // 20}@catalog-{i % 20}-{stamp}.tar.gz"


def shift_portal_days(portal, n, add, expire):
    """A nightly change: day `add`'s run appears, day `expire`'s run is deleted (either may already be so)."""
    for name in portal_day(add, n):
        touch(os.path.join(portal, name), 1)
    for name in portal_day(expire, n):
        path = os.path.join(portal, name)
        if os.path.exists(path):
            os.remove(path)


def make_index_tree(root, n):
    """A portal of n // 30 - 1 sites kept for 30 days (one system and one file per site a day) and a pgBackRest
    repository with a full backup each day near the portal run: every run pairs. Files are sparse (1 byte, or
    100 for manifests, no blocks on disk): only names, sizes and the backup.info text matter."""
    marker = root.rstrip("/") + ".complete-%d" % n
    if os.path.exists(marker):
        return
    shutil.rmtree(root, ignore_errors=True)
    portal = os.path.join(root, "portal")
    stanza = os.path.join(root, "management", "backup", "apic")
    os.makedirs(portal)
    os.makedirs(stanza)
    info = ["[backup:current]"]
    for day in range(DAYS):
        t = START + day * 86400
        for name in portal_day(day, n):
            touch(os.path.join(portal, name), 1)
        label = time.strftime("%Y%m%d-%H%M%S", time.gmtime(t + 60)) + "F"
        info.append(f'{label}={{"backup-error":false,"backup-prior":null,"backup-timestamp-start":{t + 60},'
                    f'"backup-timestamp-stop":{t + 600},"backup-type":"full"}}')
        os.makedirs(os.path.join(stanza, label))
        touch(os.path.join(stanza, label, "backup.manifest"), 100)
    with open(os.path.join(stanza, "backup.info"), "w") as f:
        f.write("\n".join(info) + "\n")
    open(marker, "w").close()


if "index" in parts:
    index_n = args.index_n
    index_dir = os.path.join(work, "index")
    tree = os.path.join(work, "index-tree")
    print(f"bench: preparing {index_n} local files in {tree}", file=sys.stderr)
    make_index_tree(tree, index_n)
    shift_portal_days(os.path.join(tree, "portal"), index_n, add=0, expire=DAYS)  # undo a nightly run cut short
    os.makedirs(index_dir, exist_ok=True)
    with open(os.path.join(index_dir, "portal_cr.yaml"), "w") as f:
        f.write(cr("sftp", "backup.example.com", "/portal"))
    with open(os.path.join(index_dir, "management_cr.yaml"), "w") as f:
        f.write("kind: ManagementCluster\nmetadata: {name: management}\nspec:\n  originalUID: bench\n  databaseBackup:\n"
                "    protocol: sftp\n    host: backup.example.com\n    path: /management\n    credentials: bench-secret\n")
    index_config = os.path.join(index_dir, "dr-audit.yaml")
    with open(index_config, "w") as f:
        f.write(f"database: ./index.sqlite\nportal:\n  cr: ./portal_cr.yaml\n  target: {{protocol: local, path: {tree}/portal}}\n"
                f"management:\n  cr: ./management_cr.yaml\n  target: {{protocol: local, path: {tree}/management}}\n")
    index_db = os.path.join(index_dir, "index.sqlite")
    scan = run([BIN, "scan", "--config", index_config], before=remove(index_db))
    report(f"dr-audit scan+index, local, {index_n} objects", *scan, goal=("peak RSS < 100 MB", 100, "rss"))
    now = ["--now", "2026-09-21T12:00:00Z"]
    pairs = run([BIN, "pairs", "--config", index_config] + now)
    report(f"dr-audit pairs, {index_n} objects", *pairs, goal=("< 1 s, peak RSS < 100 MB", (1.0, 100), "seconds+rss"))
    pairs_json = run([BIN, "pairs", "--config", index_config, "--format", "json"] + now)
    report(f"dr-audit pairs --format json, {index_n} objects", *pairs_json)  # lists every site file: ~77 MB
    audit = run([BIN, "audit", "--config", index_config, "--format", "json"] + now)
    report(f"dr-audit audit, {index_n} objects", *audit)
    # The nightly case: the next run's files appear and the oldest run's expire. Each run starts from the index
    # and tree above; the tree is put back after.
    unchanged = run([BIN, "scan", "--config", index_config])
    report(f"dr-audit rescan unchanged, {index_n} objects", *unchanged)
    scanned = index_db + ".scanned"
    shutil.copyfile(index_db, scanned)
    portal_tree = os.path.join(tree, "portal")

    def next_night():
        shutil.copyfile(scanned, index_db)
        shift_portal_days(portal_tree, index_n, add=DAYS, expire=0)
    nightly = run([BIN, "scan", "--config", index_config], before=next_night)
    report(f"dr-audit rescan +1 day -1 day, {index_n} objects", *nightly, goal=("peak RSS < 100 MB", 100, "rss"))
    shift_portal_days(portal_tree, index_n, add=0, expire=DAYS)
    shutil.copyfile(scanned, index_db)
    os.remove(scanned)

# --- A WAL archive of 1M segments ---------------------------------------------------------------------
WAL_BACKUPS = 100


def wal_name(n):
    """Segment n of timeline 1 (16 MiB segments: 256 a log)."""
    return f"00000001{n // 256:08X}{n % 256:08X}"


def make_wal_tree(root, n):
    """A pgBackRest repository with WAL_BACKUPS full backups over 30 days and n archived segments, one every
    30 days / n, each file's mtime its archive time (sparse, 1 byte)."""
    marker = root.rstrip("/") + ".complete-%d" % n
    if os.path.exists(marker):
        return
    shutil.rmtree(root, ignore_errors=True)
    stanza = os.path.join(root, "backup", "apic")
    archive = os.path.join(root, "archive", "apic", "15-1")
    os.makedirs(stanza)
    every = DAYS * 86400 / n
    folder = None
    for i in range(1, n + 1):
        name = wal_name(i)
        if folder != name[:16]:
            folder = name[:16]
            os.makedirs(os.path.join(archive, folder))
        path = os.path.join(archive, folder, f"{name}-{i:040x}.gz")
        touch(path, 1)
        t = START + i * every
        os.utime(path, (t, t))
    info = ["[backup:current]"]
    for b in range(WAL_BACKUPS):
        start = START + (b + 0.5) * DAYS * 86400 / WAL_BACKUPS
        stop = start + 300
        label = time.strftime("%Y%m%d-%H%M%S", time.gmtime(start)) + "F"
        first, last = int((start - START) / every) + 1, int((stop - START) / every) + 1
        info.append(f'{label}={{"backup-archive-start":"{wal_name(first)}","backup-archive-stop":"{wal_name(last)}",'
                    f'"backup-error":false,"backup-prior":null,"backup-timestamp-start":{int(start)},'
                    f'"backup-timestamp-stop":{int(stop)},"backup-type":"full","db-id":1,"option-archive-copy":false}}')
        os.makedirs(os.path.join(stanza, label))
        touch(os.path.join(stanza, label, "backup.manifest"), 100)
    info.append('\n[db:history]\n1={"db-version":"15"}')
    with open(os.path.join(stanza, "backup.info"), "w") as f:
        f.write("\n".join(info) + "\n")
    open(marker, "w").close()


if "wal" in parts:
    wal_n = args.wal_n
    wal_dir = os.path.join(work, "wal")
    wal_tree = os.path.join(work, "wal-tree")
    print(f"bench: preparing a WAL archive of {wal_n} segments in {wal_tree}", file=sys.stderr)
    make_wal_tree(wal_tree, wal_n)
    os.makedirs(wal_dir, exist_ok=True)
    management_cr = ("kind: ManagementCluster\nmetadata: {name: management}\nspec:\n  originalUID: bench\n"
                     "  databaseBackup:\n    protocol: sftp\n    host: backup.example.com\n    path: /management\n"
                     "    credentials: bench-secret\n")
    with open(os.path.join(wal_dir, "management_cr.yaml"), "w") as f:
        f.write(management_cr)
    with open(os.path.join(wal_dir, "portal_cr.yaml"), "w") as f:
        f.write(cr("sftp", "backup.example.com", "/portal"))
    wal_config = os.path.join(wal_dir, "dr-audit.yaml")
    with open(wal_config, "w") as f:
        f.write(f"database: ./wal.sqlite\n"
                f"management:\n  cr: ./management_cr.yaml\n  target: {{protocol: local, path: {wal_tree}}}\n")
    wal_db = os.path.join(wal_dir, "wal.sqlite")
    portal_scan = next((r for r in rows if r[0].startswith("dr-audit scan+index, local")), None)
    scan = run([BIN, "scan", "--config", wal_config], before=remove(wal_db))
    report(f"dr-audit scan+index, {wal_n} WAL segments", *scan, ratio_to=portal_scan[1] if portal_scan else None,
           goal=("≤ 1.3× the 1M portal scan, peak RSS < 100 MB", (1.3, 100), "ratio+rss") if portal_scan else
           ("peak RSS < 100 MB", 100, "rss"))
    # Its listing: the tree listed long (names, sizes, times), as `sftp ls -l` is for SFTP; and find, the leanest.
    ls_lr = run(["ls", "-lR", wal_tree])
    report(f"ls -lR, {wal_n} WAL segments", *ls_lr)
    find = run(["find", wal_tree, "-printf", "%s %T@ %p\n"])
    report(f"find -printf, {wal_n} WAL segments", *find)
    rescan = run([BIN, "scan", "--config", wal_config])
    report(f"dr-audit rescan unchanged, {wal_n} WAL segments", *rescan, ratio_to=ls_lr[0],
           goal=("≤ 1.1× listing (ls -lR)", 1.1))
    report(f"dr-audit rescan unchanged, {wal_n} WAL, vs find", *rescan, ratio_to=find[0])
    # pairs and audit on an index holding both: the 1M portal files of the index part and this archive.
    if "index" in parts:
        both_config = os.path.join(wal_dir, "both.yaml")
        with open(both_config, "w") as f:
            f.write(f"database: ./both.sqlite\n"
                    f"portal:\n  cr: ./portal_cr.yaml\n  target: {{protocol: local, path: {tree}/portal}}\n"
                    f"management:\n  cr: ./management_cr.yaml\n  target: {{protocol: local, path: {wal_tree}}}\n")
        both_db = os.path.join(wal_dir, "both.sqlite")
        if os.path.exists(both_db):
            os.remove(both_db)
        subprocess.run([BIN, "scan", "--config", both_config], check=True, stdout=subprocess.DEVNULL)
        now = ["--now", "2026-09-21T12:00:00Z"]
        pairs = run([BIN, "pairs", "--config", both_config] + now)
        report(f"dr-audit pairs, {index_n} portal + {wal_n} WAL", *pairs,
               goal=("< 1 s, peak RSS < 100 MB", (1.0, 100), "seconds+rss"))
        audit = run([BIN, "audit", "--config", both_config, "--format", "json"] + now)
        report(f"dr-audit audit, {index_n} portal + {wal_n} WAL", *audit,
               goal=("< 1 s, peak RSS < 100 MB", (1.0, 100), "seconds+rss"))

# --- Verify: reading 1 GiB of portal archives end to end ---------------------------------------------
VERIFY_T = 1_790_000_000  # 2026-09-21T14:13:20Z: the run's system backup; the sites follow a second apart


def verify_names(sites):
    stamp = lambda t: time.strftime("%Y%m%d.%H%M%S", time.gmtime(t))
    return ([f"_portal_system_backup-{stamp(VERIFY_T)}.tar.gz"]
            + [f"portal-web.example.com@org{i}@catalog-{stamp(VERIFY_T + 1 + i)}.tar.gz" for i in range(sites)])


def make_archive(job):
    """One portal archive of about `size` bytes: a tar.gz (level 6, as tar czf) of SQL dump text drawn from a
    corpus in 64 KiB slices, exported JSON, and uploaded files that do not compress (about a quarter)."""
    import gzip
    import io
    import random
    import tarfile
    path, size, seed = job
    rng = random.Random(seed)
    words = [("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 11))))
             for _ in range(3000)]
    lines = []
    for n in range(60_000):
        lines.append(f"INSERT INTO node_revision (nid, vid, title, body, changed) VALUES ({n}, {n * 7 + rng.randint(0, 99)}, "
                     f"'{' '.join(rng.choices(words, k=6))}', '{' '.join(rng.choices(words, k=rng.randint(8, 40)))}', "
                     f"{1_700_000_000 + rng.randint(0, 10 ** 8)});\n")
    corpus = "".join(lines).encode()
    slice_size = 64 << 10
    with open(path + ".part", "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz:
            with tarfile.open(fileobj=gz, mode="w|", format=tarfile.GNU_FORMAT) as tar:
                part = 0
                while raw.tell() < size:
                    text = b"".join(corpus[o:o + slice_size] for o in
                                    (rng.randrange(0, len(corpus) - slice_size) for _ in range(48)))
                    for name, body in ((f"database/dump-{part:03d}.sql", text),
                                       (f"files/upload-{part:03d}.bin", rng.randbytes(len(text) // 4)),
                                       (f"config/export-{part:03d}.json", text[:4096].replace(b"INSERT", b"{\"i\":"))):
                        info = tarfile.TarInfo(name)
                        info.size = len(body)
                        info.mtime = VERIFY_T
                        tar.addfile(info, io.BytesIO(body))
                    part += 1
    os.rename(path + ".part", path)


def make_verify_tree(path, total_mb, sites):
    marker = path.rstrip("/") + f".complete-{total_mb}-{sites}"
    if os.path.exists(marker):
        return
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    names = verify_names(sites)
    size = total_mb * (1 << 20) // len(names)
    import multiprocessing
    with multiprocessing.Pool(os.cpu_count()) as pool:
        pool.map(make_archive, [(os.path.join(path, n), size, i) for i, n in enumerate(names)])
    open(marker, "w").close()


def make_verify_management(root):
    """A pgBackRest repository with one full backup at the portal run (one tiny file, so the pair is the portal)."""
    import hashlib
    import zlib
    label = time.strftime("%Y%m%d-%H%M%S", time.gmtime(VERIFY_T - 60)) + "F"
    stanza = os.path.join(root, "backup", "apic")
    os.makedirs(os.path.join(stanza, label, "pg_data"), exist_ok=True)
    content = b"15\n"
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    stored = c.compress(content) + c.flush()
    with open(os.path.join(stanza, label, "pg_data", "PG_VERSION.gz"), "wb") as f:
        f.write(stored)
    with open(os.path.join(stanza, label, "backup.manifest"), "w") as f:
        f.write(f'[backup]\nbackup-label="{label}"\nbackup-type="full"\n\n[backup:option]\noption-compress-type="gz"\n\n'
                f'[target:file]\npg_data/PG_VERSION={{"checksum":"{hashlib.sha1(content).hexdigest()}",'
                f'"repo-size":{len(stored)},"size":{len(content)},"timestamp":{VERIFY_T}}}\n')
    with open(os.path.join(stanza, "backup.info"), "w") as f:
        f.write(f'[backup:current]\n{label}={{"backup-error":false,"backup-prior":null,"backup-timestamp-start":'
                f'{VERIFY_T - 60},"backup-timestamp-stop":{VERIFY_T + 20},"backup-type":"full"}}\n')


if "verify" in parts:
    vdir = os.path.join(work, "verify")
    source = os.path.join(work, "verify-source", "portal")
    print(f"bench: preparing {args.verify_mb} MiB of portal archives in {source}", file=sys.stderr)
    make_verify_tree(source, args.verify_mb, args.verify_sites)
    names = verify_names(args.verify_sites)
    total = sum(os.path.getsize(os.path.join(source, n)) for n in names)
    make_verify_management(os.path.join(vdir, "management"))
    management_cr = os.path.join(vdir, "management_cr.yaml")
    os.makedirs(vdir, exist_ok=True)
    with open(management_cr, "w") as f:
        f.write("kind: ManagementCluster\nmetadata: {name: management}\nspec:\n  originalUID: bench\n  databaseBackup:\n"
                "    protocol: sftp\n    host: backup.example.com\n    path: /management\n    credentials: bench-secret\n")
    management = (f"management:\n  cr: {management_cr}\n  target: {{protocol: local, path: {vdir}/management}}\n")
    now = ["--now", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(VERIFY_T + 3600))]
    jobs = str(args.verify_jobs)
    mib = total / (1 << 20)

    # SFTP: the archives in the test user's home; OpenSSH `ssh cat | gzip -t` per object, as many at once.
    sftp_portal = os.path.join(E["DRTEST_SSH_HOME"], "dr-audit-bench", "verify")
    if not os.path.exists(sftp_portal + ".complete") or sorted(os.listdir(sftp_portal)) != sorted(names):
        shutil.rmtree(sftp_portal, ignore_errors=True)
        shutil.copytree(source, sftp_portal)
        open(sftp_portal + ".complete", "w").close()
    os.chmod(os.path.dirname(sftp_portal), 0o755)
    key_file = os.path.join(E["DRTEST_SSH_DIR"], "client_key")
    key = open(key_file).read()
    sftp_config = write_config(
        os.path.join(vdir, "sftp"), cr("sftp", "127.0.0.1", sftp_portal, E["DRTEST_SSH_PORT"]),
        f"kind: Secret\nmetadata: {{name: bench-secret}}\ndata:\n  username: {b64(E['DRTEST_SSH_USER'])}\n"
        f"  ssh-privatekey: {b64(key)}\n",
        f"  knownHosts: {E['DRTEST_SSH_DIR']}/known_hosts\n" + management)
    subprocess.run([BIN, "scan", "--config", sftp_config], check=True, stdout=subprocess.DEVNULL)
    ssh = (f"ssh -q -i {key_file} -p {E['DRTEST_SSH_PORT']} -o UserKnownHostsFile={E['DRTEST_SSH_DIR']}/known_hosts "
           f"-o StrictHostKeyChecking=yes {E['DRTEST_SSH_USER']}@127.0.0.1")
    peer = f"xargs -P {jobs} -I{{}} sh -c '{ssh} cat {sftp_portal}/{{}} | gzip -t'"
    listing = os.path.join(vdir, "names.txt")
    with open(listing, "w") as f:
        f.write("\n".join(names) + "\n")
    pipeline = run(["sh", "-c", f"{peer} < {listing}"])
    report(f"ssh cat | gzip -t, {jobs} at a time ({mib:.0f} MiB)", *pipeline)
    verify = run([BIN, "verify", "--config", sftp_config, "--jobs", jobs] + now)
    report("dr-audit verify, SFTP", *verify, ratio_to=pipeline[0],
           goal=("≤ 1.0× ssh cat | gzip -t, RSS < 100 MB", (1.0, 100), "ratio+rss"))

    # S3: the archives in a bucket; `curl --aws-sigv4 | gzip -t` per object, as many at once.
    bucket = "dr-audit-bench-verify"
    rclone_env = {"RCLONE_CONFIG_S_TYPE": "s3", "RCLONE_CONFIG_S_PROVIDER": "SeaweedFS",
                  "RCLONE_CONFIG_S_ACCESS_KEY_ID": E["DRTEST_S3_ACCESS_KEY"],
                  "RCLONE_CONFIG_S_SECRET_ACCESS_KEY": E["DRTEST_S3_SECRET_KEY"],
                  "RCLONE_CONFIG_S_ENDPOINT": E["DRTEST_S3_ENDPOINT"]}
    rclone = ["env", "-u", "AWS_CA_BUNDLE", "rclone", "--config", "/dev/null"]
    listed = subprocess.run(rclone + ["lsf", "--files-only", f"s:{bucket}/portal"], env={**os.environ, **rclone_env},
                            capture_output=True, text=True).stdout.split()
    if sorted(listed) != sorted(names):
        print(f"bench: uploading {mib:.0f} MiB to s3://{bucket}/portal", file=sys.stderr)
        subprocess.run(rclone + ["purge", f"s:{bucket}"], env={**os.environ, **rclone_env}, capture_output=True)
        subprocess.run(rclone + ["mkdir", f"s:{bucket}"], env={**os.environ, **rclone_env}, check=True)
        subprocess.run(rclone + ["copy", "--transfers", "8", source, f"s:{bucket}/portal"],
                       env={**os.environ, **rclone_env}, check=True)
    s3_config = write_config(
        os.path.join(vdir, "s3"), cr("objstore", "s3.example.com/us-east-1", f"{bucket}/portal"),
        f"kind: Secret\nmetadata: {{name: bench-secret}}\ndata:\n  username: {b64(E['DRTEST_S3_ACCESS_KEY'])}\n"
        f"  password: {b64(E['DRTEST_S3_SECRET_KEY'])}\n",
        f"  endpoint: {E['DRTEST_S3_ENDPOINT']}\n" + management)
    subprocess.run([BIN, "scan", "--config", s3_config], check=True, stdout=subprocess.DEVNULL)
    curl = (f"curl -sf --aws-sigv4 aws:amz:us-east-1:s3 --user {E['DRTEST_S3_ACCESS_KEY']}:{E['DRTEST_S3_SECRET_KEY']} "
            f"-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' {E['DRTEST_S3_ENDPOINT']}/{bucket}/portal/")
    import urllib.parse
    encoded = os.path.join(vdir, "names-encoded.txt")
    with open(encoded, "w") as f:
        f.write("\n".join(urllib.parse.quote(n, safe="") for n in names) + "\n")
    peer = f"xargs -P {jobs} -I{{}} sh -c \"{curl}{{}} | gzip -t\""
    pipeline = run(["sh", "-c", f"{peer} < {encoded}"])
    report(f"curl --aws-sigv4 | gzip -t, {jobs} at a time", *pipeline)
    verify = run([BIN, "verify", "--config", s3_config, "--jobs", jobs] + now)
    report("dr-audit verify, S3", *verify, ratio_to=pipeline[0],
           goal=("≤ 1.0× curl | gzip -t, RSS < 100 MB", (1.0, 100), "ratio+rss"))

# --- Report -----------------------------------------------------------------------------------------
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"\ndr-audit benchmark, {n} objects, median of {args.runs} runs, {time.strftime('%Y-%m-%d', time.gmtime())}, "
      f"{os.cpu_count()} × {cpu}\n")
print(f"| {'measurement':<44} | {'seconds':>8} | {'peak RSS MB':>11} | {'ratio':>6} | goal |")
print(f"|{'-' * 46}|{'-' * 10}|{'-' * 13}|{'-' * 8}|------|")
for name, wall, rss, ratio, goal in rows:
    r = f"{ratio:.2f}×" if ratio is not None else ""
    g = ""
    if goal:
        kind = goal[2] if len(goal) > 2 else "ratio"
        met = {"ratio": lambda: ratio <= goal[1], "rss": lambda: rss <= goal[1],
               "seconds+rss": lambda: wall <= goal[1][0] and rss <= goal[1][1],
               "ratio+rss": lambda: ratio <= goal[1][0] and rss <= goal[1][1]}[kind]()
        g = f"{goal[0]}: {'met' if met else 'NOT met'}"
    print(f"| {name:<44} | {wall:8.2f} | {rss:11.1f} | {r:>6} | {g} |")
