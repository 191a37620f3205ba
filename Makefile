# The entry points of the README.
.PHONY: demo check test bench wheel

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
