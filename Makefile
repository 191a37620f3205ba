# The entry points of the README.
.PHONY: demo check test bench wheel man

demo:
	bash scripts/demo.sh

# The quick edit loop: fmt, clippy, unit tests, the core without auth_token, the layering check, mypy, ruff.
check:
	bash scripts/check.sh

test:
	bash scripts/test.sh

# Benchmarks against the peers (not part of the tests): writes benches/RESULTS.md and results.png.
bench:
	bash scripts/bench.sh

# The Python distributions into target/wheels/: the portable manylinux2014 wheel and the sdist.
wheel:
	bash scripts/build-wheel.sh

# The kstoken man pages and shell completions (clap_mangen, clap_complete) into target/docs/:
# man/kstoken.1 and one page per subcommand, completions/kstoken.bash, _kstoken (zsh), kstoken.fish.
man:
	cargo run --quiet --locked -p kstoken-cli -- generate-docs target/docs
	@echo "man pages: target/docs/man (man -l target/docs/man/kstoken.1); completions: target/docs/completions"
