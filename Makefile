# The two set-up commands of the README: `make demo` (main job on the bundled defaults) and `make test`.
# Both install the apt packages they need first (.ci/install-deps.sh).
.PHONY: deps demo test release

deps:
	@./.ci/install-deps.sh

release: deps
	swift build -c release --product sam

demo: release
	.build/release/sam demo

test: deps
	swift build --build-tests
	swift test --skip-build
