# The two quick-start commands: `make demo` and `make test`. Each installs libpcap's headers first
# if they are missing (scripts/install-deps.sh).

FIXTURE := fixtures/citizenlab-zoom-2020.pcap

.PHONY: demo test deps

deps:
	@scripts/install-deps.sh

# Audits the Citizen Lab reproduction with the embedded GeoIP data and the default policy. The
# audit exits 1 because it finds a critical key exchange; that is the expected outcome here.
demo: deps
	@cargo run --release --quiet -- audit --format table $(FIXTURE) || [ $$? -eq 1 ]

test: deps
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace
	cargo xtask fixtures --check
