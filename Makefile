# Cat / Dog / Other classifier. `make help` lists the targets.
SHELL := /bin/bash
BIN := node_modules/.bin
# Every target runs on Node.js 22.13 or later: the one on PATH, or else the Docker image's Node,
# fetched once from the npm registry into .cache/node (scripts/node-runtime.sh).
NODE_RUNTIME := $(shell sh scripts/node-runtime.sh || echo failed)
ifeq ($(NODE_RUNTIME),failed)
$(error no Node.js 22.13 or later (see the lines above); install one, or set MAKE_NODE=/path/to/bin/node)
endif
ifneq ($(NODE_RUNTIME),)
export PATH := $(NODE_RUNTIME):$(PATH)
endif
# Inputs that are not in the repository, each from a local copy in LOCAL_INPUTS when there is one
# (a folder beside the checkout on CI's machines), otherwise from its public source or unset:
# - MODEL_SOURCE: where `make model` obtains the backbone weights (a URL or a path; default the
#   ONNX Model Zoo);
# - TRAIN_DATA: labelled photos (labels.json and images/) for `make train` and the tests that
#   measure accuracy;
# - CONFORMANCE_DIR: the published standards the tests check the service against (the Open
#   Inference Protocol, KServe's CRDs, Triton's protos, Label Studio's ML backend API).
# Tests that need an input that is unset are skipped, and the run ends with a summary saying so.
LOCAL_INPUTS ?= ../shared
MODEL_SOURCE ?= $(or $(wildcard $(LOCAL_INPUTS)/models/mobilenetv2-12-int8.onnx),https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx)
TRAIN_DATA ?= $(wildcard $(LOCAL_INPUTS)/data/cats-dogs-others)
CONFORMANCE_DIR ?= $(wildcard $(LOCAL_INPUTS)/conformance)
export MODEL_SOURCE TRAIN_DATA CONFORMANCE_DIR
export REDOCLY_TELEMETRY := off
export REDOCLY_SUPPRESS_UPDATE_NOTICE := true

.PHONY: help install model calibrate model-report train generate check-generated lint typecheck web build bench-build test test-fast test-image-node run dev token docs postman prod-smoke bench bench-grpc bench-tracing bench-profile bench-memory bench-swap bench-shadow bench-version-memory bench-explain soak attack clean

help: ## This list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

install: ## Install dependencies (npm ci) and obtain the model
	npm ci
	$(MAKE) model

TRAIN_ARGS ?=

model: ## Obtain the backbone (MODEL_SOURCE: URL or path), verify SHA-256, re-quantise it to 7 bits, build the served models into the model repository (catdog/1, imagenet-grouped/1)
	$(BIN)/tsx scripts/fetch-model.ts
	$(BIN)/tsx scripts/build-model.ts

calibrate: ## Measure the activation means the 7-bit backbone's bias correction uses, on labelled photos (TRAIN_DATA), into resources/models/activation-means.json (committed; then make model and retrain the head)
	$(BIN)/tsx scripts/fetch-model.ts
	$(BIN)/tsx scripts/calibrate.ts --data $(TRAIN_DATA)

model-report: ## The int8 forms side by side (Zoo vs 7-bit weights; as-is, unsigned, exact float32): kernels per CPU, ms/image on one thread, nested-CV accuracy, bit-equality (REPORT_ARGS="--rounds 7 --images 24")
	$(BIN)/tsx scripts/model-report.ts --data $(TRAIN_DATA) $(REPORT_ARGS)

train: ## Train the Cat/Dog/Other head on labelled photos (TRAIN_DATA: folder with labels.json and images/) and the labelled captures (CAPTURE_DIR, var/captures; read-only, no service needed), and publish it as the next version of catdog unless it is worse than the serving version on the held-out captures (then exit 3)
	$(BIN)/tsx scripts/fetch-model.ts
	$(BIN)/tsx scripts/train.ts $(if $(TRAIN_DATA),--data $(TRAIN_DATA)) $(TRAIN_ARGS)

generate: ## Regenerate generated/ from the contracts: the spec (openapi-typescript), the gRPC protos in proto/ (proto-loader-gen-types)
	$(BIN)/openapi-typescript openapi/openapi.yaml -o generated/openapi.ts
	$(BIN)/tsx scripts/generate-grpc.ts

check-generated: generate ## Fail when generated/ is stale (a changed, added or removed file)
	git diff --exit-code -- generated/
	@test -z "$$(git status --porcelain -- generated/)" || { git status --porcelain -- generated/; echo 'generated/ has files git does not know: commit them'; exit 1; }

lint: ## Lint the OpenAPI spec (redocly), the TypeScript (ESLint, type-aware, no import cycles; zero warnings), unused code (knip)
	$(BIN)/redocly lint openapi/openapi.yaml --format=stylish
	$(BIN)/eslint --max-warnings 0 src tools scripts test types web
	$(BIN)/knip --no-progress

typecheck: ## Type-check src, tools, scripts, tests and the web page
	$(BIN)/tsc -p tsconfig.json --noEmit
	$(BIN)/tsc -p web/tsconfig.json

web: ## Bundle the web page served at GET / (web/ → dist/web/, esbuild)
	$(BIN)/tsx scripts/build-web.ts

build: web ## Compile the service and the predict CLI (src/) to dist/, and bundle the web page
	$(BIN)/tsc -p tsconfig.build.json

# The benchmark's own build, apart from dist/ (which holds only what the image runs): its load
# generator and bare pipeline run compiled, as the service does.
bench-build:
	$(BIN)/tsc -p tsconfig.bench.json

test-fast: ## The inner loop: unit and in-process contract tests, in parallel (test/unit, test/contract)
	$(BIN)/mocha --parallel --jobs 2 'test/unit/**/*.test.ts' 'test/contract/**/*.test.ts'

test: check-generated lint typecheck web docs postman ## Everything CI checks: generated types fresh, lint, types, every test (test/unit, contract, system, model, integrations, tools, scripts; also on the image's Node), production start-up
	$(BIN)/mocha
	$(MAKE) test-image-node
	$(MAKE) prod-smoke

# The suite exercises what differs between Node versions (the HTTP server's deadlines and
# limits, fetch, worker threads, the native modules) beyond what prod-smoke's start-up reaches.
test-image-node: ## The tests again on the Docker image's Node when another one runs make (fetched from the npm registry, cached in .cache/node)
	$(BIN)/tsx scripts/image-node.ts --unless-running -- $(BIN)/mocha

prod-smoke: build ## The Dockerfile's start-up without Docker, on the image's Node and ENV: npm ci --omit=dev in a clean folder, dist/, cat.png → Cat, SIGTERM
	$(BIN)/tsx scripts/prod-smoke.ts

# Without an issuer configured, `make run` is `make dev`: the service with a local identity
# provider, so that a fresh checkout serves real tokens. With OAUTH2_ISSUER (or AUTH_DISABLED)
# set, the service alone. Either way it polls the model repository, so that what `make train`
# publishes in another terminal is served without a restart (MODEL_CONTROL=poll; with
# MODEL_MANIFEST, one fixed model: explicit). The service's own default, for production, is explicit.
RUN_MODEL_CONTROL = $(or $(MODEL_CONTROL),$(if $(MODEL_MANIFEST),explicit,poll))
# Locally every answer is captured (into CAPTURE_DIR, var/captures by default) for labelling and
# make train, unless CAPTURE_SAMPLE_RATE says otherwise; the service's own default is 0 (off).
RUN_CAPTURE_SAMPLE_RATE = $(or $(CAPTURE_SAMPLE_RATE),1)
RUN_ENV = MODEL_CONTROL=$(RUN_MODEL_CONTROL) CAPTURE_SAMPLE_RATE=$(RUN_CAPTURE_SAMPLE_RATE)
run: web ## Serve on :8080, the web page at / (with the local identity provider unless OAUTH2_ISSUER or AUTH_DISABLED is set), polling the model repository, capturing every answer (CAPTURE_SAMPLE_RATE=1)
ifneq ($(OAUTH2_ISSUER)$(AUTH_DISABLED),)
	$(RUN_ENV) node --import tsx src/main.ts
else
	$(RUN_ENV) $(BIN)/tsx scripts/dev.ts
endif

dev: web ## Local identity provider (127.0.0.1:9400) and the API and web page (127.0.0.1:8080) configured against it, polling the model repository, capturing every answer (CAPTURE_SAMPLE_RATE=1)
	$(RUN_ENV) $(BIN)/tsx scripts/dev.ts

token: ## Print an access token from the `make dev` identity provider: TOKEN=$$(make -s token); for the management API: make -s token SCOPE=manage::models
	@$(BIN)/tsx scripts/token.ts

docs: ## Static Redoc HTML of the spec in dist/docs/index.html (self-contained: no CDN, fetches nothing)
	$(BIN)/redocly build-docs openapi/openapi.yaml --inlineBundle --template docs/redoc.hbs -o dist/docs/index.html

postman: ## Postman collection + environment from the spec in dist/postman/ (import both; newman runs them in make test)
	$(BIN)/tsx scripts/postman.ts

bench: build bench-build ## Throughput: bare pipeline, service (AUTH_DISABLED=true) and ../shared/bench peer at c=1/4/16/64 (BENCH_ARGS="--duration 15 --rounds 2 ...")
	node .bench/build/scripts/bench/main.js $(BENCH_ARGS)

bench-grpc: build bench-build ## gRPC against REST on one service, interleaved: ModelInfer of 1 image ÷ /upload req/s at c=16, of 8 images ÷ /upload images/s at c=4 (BENCH_ARGS="--duration 10 --rounds 3")
	node .bench/build/scripts/bench/grpc.js $(BENCH_ARGS)

bench-tracing: build bench-build ## Cost of OpenTelemetry tracing, interleaved: /upload req/s with tracing off ÷ the main branch's build (±2 %), and on (always_on, OTLP to a local receiver) ÷ off (BENCH_ARGS="--duration 12 --rounds 3 --baseline REF", default the branch's fork point from main)
	node .bench/build/scripts/bench/tracing.js $(BENCH_ARGS)

bench-profile: build bench-build ## Main-thread CPU per request by category, service vs bare pipeline, from node --cpu-prof at c=16: docs/cpu-profile.md and .svg (BENCH_ARGS="--duration 20 --warmup 2000")
	node .bench/build/scripts/bench/profile.js $(BENCH_ARGS)

bench-memory: build bench-build ## Resident memory growth of the service across 20,000 uploads (limit 32 MiB)
	node .bench/build/scripts/bench/memory.js $(BENCH_ARGS)

# The service runs with the image's malloc settings (the Dockerfile's ENV: MALLOC_MMAP_THRESHOLD_ of
# 32 MiB, the heap keeps a replaced version's memory for reuse); compare with
# `MALLOC_MMAP_THRESHOLD_=131072 make bench-swap` (memory returned, at about a sixth of the throughput).
bench-swap: build bench-build ## Hot swaps under load: c=16, 5,000 warm-up uploads, 20 s steady then 20 s with 10 swaps between two versions; failed requests, p99 ratio, memory after the last release (BENCH_ARGS="--duration 20 --swaps 10")
	node .bench/build/scripts/bench/swap.js $(BENCH_ARGS)

bench-shadow: build bench-build ## Shadow traffic's cost: /upload p99 and req/s at c=16 and c=1 with and without a shadow version, interleaved; images compared and shed (BENCH_ARGS="--duration 10 --rounds 2")
	node .bench/build/scripts/bench/shadow.js $(BENCH_ARGS)

bench-version-memory: build bench-build ## Resident memory of the service with 1, 2 and 3 versions of catdog loaded (version_policy latest N): what each loaded version costs (BENCH_ARGS="--requests 300")
	node .bench/build/scripts/bench/version-memory.js $(BENCH_ARGS)

bench-explain: build bench-build ## Cost of POST /explain: ms per explanation at idle, /upload throughput with and without explanations running (BENCH_ARGS="--duration 15 --concurrency 4")
	node .bench/build/scripts/bench/explain.js $(BENCH_ARGS)

soak: ## Soak: 20,000 uploads at concurrency 32 on loopback, valid and invalid, against a fresh service (SOAK_ARGS="--url ... --requests ...")
	node --import tsx scripts/soak.ts $(SOAK_ARGS)

attack: ## Issue 17's and 22's attacks on loopback, each against a fresh service, with figures (ATTACK_ARGS="slow-clients decode-bombs large-decodes batch-flood explain-flood fair-share")
	node --import tsx scripts/attack/main.ts $(ATTACK_ARGS)

clean: ## Remove build output, downloaded weights and built models (versions published by make train stay)
	rm -rf dist .bench/build resources/models/*.onnx resources/models/repository/*/1/model.onnx resources/models/repository/*/1/golden
