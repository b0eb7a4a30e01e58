# The two quick-start commands: `make demo` and `make test`. Each installs libpcap's headers first
# if they are missing (scripts/install-deps.sh).

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

FIXTURE := fixtures/citizenlab-zoom-2020.pcap

.PHONY: demo test deps

deps:
	@scripts/install-deps.sh

# Audits the Citizen Lab reproduction with the embedded GeoIP data and the default policy. The
# audit exits 1 because it finds a critical key exchange; that is the expected outcome here.
demo: deps
	@cargo run --release --quiet -- audit --format table $(FIXTURE) || [ $$? -eq 1 ]

# Lints, every test of the workspace, and the check that fixtures/ is what the generator makes.
# The last line totals the test binaries' results.
test: deps
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace --all-targets 2>&1 | tee target/test-output.txt
	cargo xtask fixtures --check
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "tests: %d passed, %d failed\n", p, f }' target/test-output.txt
