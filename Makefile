# The two quick-start commands: `make demo` and `make test`. Each installs libpcap's headers first
# if they are missing (scripts/install-deps.sh).

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

FIXTURE := fixtures/citizenlab-zoom-2020.pcap
CORPUS := ../shared/corpus/ndpi

.PHONY: demo test deps

deps:
	@scripts/install-deps.sh

# Audits the Citizen Lab reproduction with the embedded GeoIP data and the default policy. The
# audit exits 1 because it finds a critical key exchange; that is the expected outcome here.
demo: deps
	@cargo run --release --quiet -- audit --format table $(FIXTURE) || [ $$? -eq 1 ]

# Lints, every test of the workspace (the torture corpus among them), the check that fixtures/ is
# what the generator makes, a smoke run of every fuzz target, and,
# when nDPI's reference captures are beside the project, the accuracy gates of docs/accuracy.md
# (key exchange against tshark too when tshark is installed), then a quick benchmark that only
# reports (docs/performance.md). The last line totals the test binaries' results.
test: deps
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo fmt --manifest-path fuzz/Cargo.toml -- --check
	cargo clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings
	cargo test --workspace --all-targets 2>&1 | tee target/test-output.txt
	cargo xtask fixtures --check
	@# Every fuzz target for 10 s from the fixtures' seeds; a crash fails (docs/robustness.md).
	scripts/fuzz.sh 10
	@if [ -d $(CORPUS) ]; then \
	    kx=""; if command -v tshark >/dev/null; then kx="--tshark --min-key-exchange 98"; fi; \
	    cargo xtask accuracy $(CORPUS) --callaudit target/debug/callaudit \
	        --min-app 95 --min-protocols 95 --max-false-apps 15 $$kx > target/accuracy.txt 2>&1 \
	        || { cat target/accuracy.txt; exit 1; }; \
	    grep '^gate:' target/accuracy.txt; \
	else echo "accuracy: $(CORPUS) not present, gates skipped"; fi
	@# A few seconds of benchmark, printed so a slowdown shows in CI logs; never a gate.
	cargo xtask bench --quick 2>&1 | tail -n 8
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "tests: %d passed, %d failed\n", p, f }' target/test-output.txt
