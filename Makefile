# dr-audit: `make demo` runs the tool on a generated sample, `make test` runs every test.
# Both install what they need first (Debian packages via apt).
SWIFT ?= swift
APT_PACKAGES := libsqlite3-dev pkg-config

.PHONY: deps build release demo test clean

deps:
	@scripts/install-deps.sh $(APT_PACKAGES)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

demo: deps
	$(SWIFT) run dr-audit demo

test: deps
	$(SWIFT) test

clean:
	rm -rf .build
