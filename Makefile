# dr-audit: `make demo` runs the tool on a generated sample, `make test` runs every test.
# Both install what they need first (Debian packages via apt).
SWIFT ?= swift
BUILD_PACKAGES := libsqlite3-dev pkg-config libssh2-1-dev libcurl4-openssl-dev libxml2-dev zlib1g-dev libssl-dev
# postgresql-15, pgbackrest, barman-cli-cloud (and python3-boto3, which scripts/pg-fixtures.sh also uses) write the
# real management repositories the WAL tests read.
TEST_PACKAGES := openssh-server openssh-client curl openssl python3-venv chromium postgresql-15 pgbackrest \
	barman-cli-cloud python3-boto3

BENCH_PACKAGES := rclone time

.PHONY: deps test-deps build release install uninstall demo test bench fuzz format clean

# `make install PREFIX=…` (default /usr/local; DESTDIR for staging) puts these under $(DESTDIR)$(PREFIX).
PREFIX ?= /usr/local
BINDIR = $(DESTDIR)$(PREFIX)/bin
MANDIR = $(DESTDIR)$(PREFIX)/share/man/man1
BASHDIR = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
ZSHDIR = $(DESTDIR)$(PREFIX)/share/zsh/site-functions
FISHDIR = $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d

deps:
	@scripts/install-deps.sh $(BUILD_PACKAGES)

test-deps: deps
	@scripts/install-deps.sh $(TEST_PACKAGES)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The release binary, its man page (swift-argument-parser's generate-manual plugin, from the binary's own help) and
# its bash, zsh and fish completion scripts (the binary's --generate-completion-script).
install: release
	$(SWIFT) package plugin generate-manual --configuration release
	install -d $(BINDIR) $(MANDIR) $(BASHDIR) $(ZSHDIR) $(FISHDIR)
	install -m 0755 "$$($(SWIFT) build -c release --show-bin-path)/dr-audit" $(BINDIR)/dr-audit
	install -m 0644 .build/plugins/GenerateManual/outputs/dr-audit/dr-audit.1 $(MANDIR)/dr-audit.1
	$(BINDIR)/dr-audit --generate-completion-script bash > $(BASHDIR)/dr-audit
	$(BINDIR)/dr-audit --generate-completion-script zsh > $(ZSHDIR)/_dr-audit
	$(BINDIR)/dr-audit --generate-completion-script fish > $(FISHDIR)/dr-audit.fish

uninstall:
	rm -f $(BINDIR)/dr-audit $(MANDIR)/dr-audit.1 $(BASHDIR)/dr-audit $(ZSHDIR)/_dr-audit $(FISHDIR)/dr-audit.fish

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
