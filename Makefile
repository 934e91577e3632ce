# dr-audit: `make demo` runs the tool on a generated sample, `make test` runs every test.
# Both install what they need first (Debian packages via apt).
SWIFT ?= swift
BUILD_PACKAGES := libsqlite3-dev pkg-config libssh2-1-dev libcurl4-openssl-dev libxml2-dev
# postgresql-15, pgbackrest, barman-cli-cloud (and python3-boto3, which scripts/pg-fixtures.sh also uses) write the
# real management repositories the WAL tests read.
TEST_PACKAGES := openssh-server openssh-client curl openssl python3-venv chromium postgresql-15 pgbackrest \
	barman-cli-cloud python3-boto3

BENCH_PACKAGES := rclone time

.PHONY: deps test-deps build release demo test bench fuzz format clean

deps:
	@scripts/install-deps.sh $(BUILD_PACKAGES)

test-deps: deps
	@scripts/install-deps.sh $(TEST_PACKAGES)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

demo: deps
	$(SWIFT) run dr-audit demo

# The tests run against real servers on 127.0.0.1 (scripts/test-servers.sh); they fail, never skip, without them.
test: test-deps
	@scripts/test-servers.sh start
	@$(SWIFT) test; status=$$?; scripts/test-servers.sh stop; exit $$status

# Peers in the same run: OpenSSH sftp, rclone (apt) and awscli (PyPI, in .venv). Prints one table of ratios.
bench: test-deps
	@scripts/install-deps.sh $(BENCH_PACKAGES)
	$(SWIFT) build -c release
	@scripts/test-servers.sh start
	@[ -x .venv/bin/aws ] || .venv/bin/pip install -q awscli
	@python3 scripts/bench.py $(BENCH_ARGS); status=$$?; scripts/test-servers.sh stop; exit $$status

# libFuzzer over the name, metadata-file and S3 XML parsers, FUZZ_SECONDS (default 60) each; fails on a crash.
fuzz: deps
	@scripts/fuzz.sh

# swift-format (ships with the toolchain), configured by .swift-format: 4 spaces, 120 columns.
format:
	$(SWIFT) format -i -r -p Sources Tests Fuzz Plugins Package.swift

clean:
	rm -rf .build .build-fuzz
