# syntax=docker/dockerfile:1
# The service's production image. `make prod-smoke` performs the same start-up without Docker
# (clean folder, npm ci --omit=dev, dist/, spec, model files, node dist/src/main.js).
#
#   docker build -t cat-dog-other .                                  # model from the ONNX Model Zoo
#   docker build --build-arg MODEL_SOURCE=https://host/model.onnx .   # or another copy (SHA-256 pinned)
#   docker build --build-arg MODEL_SOURCE= .                          # no model: mount it at run time
#   docker run -p 8080:8080 -e OAUTH2_ISSUER=… -e OAUTH2_AUDIENCE=… cat-dog-other
#   docker run … -v "$PWD/resources/models:/app/resources/models:ro" cat-dog-other

# Node 24 (Krypton), the LTS line whose releases say so (`process.release.lts`; maintained until
# April 2028; Node 20's support ended in April 2026, and the npm registry's Node 26 releases are
# not LTS ones). Where the Node on PATH is older than 22.13, make itself runs on the newest Node 24
# of the npm registry (scripts/node-runtime.sh), and so do the tests; `make prod-smoke` performs
# this start-up with it (scripts/image-node.ts reads this ARG and the runtime stage's ENV).
# Memory on Node 24: docs/runtime-memory.md.
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: all dependencies, compile to dist/, obtain and verify the model -------------------
FROM ${NODE_IMAGE} AS build
RUN apt-get update && apt-get install -y --no-install-recommends make ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY Makefile tsconfig.json tsconfig.build.json redocly.yaml ./
COPY openapi openapi
COPY generated generated
COPY types types
COPY scripts scripts
COPY tools tools
COPY src src
COPY web web
COPY resources resources
RUN make build
# A URL or a path inside the build context; empty: the model is mounted at run time.
ARG MODEL_SOURCE=https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx
RUN if [ -n "$MODEL_SOURCE" ]; then make model MODEL_SOURCE="$MODEL_SOURCE"; fi

# --- runtime: production dependencies only, non-root ----------------------------------------
FROM ${NODE_IMAGE} AS runtime
# The memory settings (docs/runtime-memory.md); make prod-smoke and the benches use this ENV too.
# LD_PRELOAD=libjemalloc.so.2 (Debian's libjemalloc2, as sharp advises on glibc): jemalloc serves
# every malloc of the process (V8's, libuv's, onnxruntime's and libvips' threads), each thread from
# a cache of its own. Against glibc's malloc it answered 1.08-1.15 times as many requests at c=4 and
# 1.00-1.02 at c=16 (server CPU per request x0.89-0.97 and x0.96-0.99; three make bench runs), and
# kept 65 MiB after ten hot swaps where glibc's kept 104; its burst peak is higher (prod-smoke
# 385-415 MiB against 329-375).
# MALLOC_CONF=background_thread:true: a thread of its own returns freed memory to the system, also
# while the service idles (with a decay of 1 s instead of its 10 s the gain was gone).
# NODE_OPTIONS=--max-semi-space-size=2: a young generation of 2 MiB fills every ~10 uploads, and
# its collections free the uploads' buffers; with 16 MiB (until December 2026) it hardly ever
# filled, the buffers went at full collections, 20-23 per 1,500 uploads instead of 6-9 (answers
# x1.03, 50 MiB less resident; without the flag, Node 24's own sizing lets the resident memory keep
# rising under load).
# MALLOC_ARENA_MAX=2 and MALLOC_MMAP_THRESHOLD_=33554432 are glibc's, inert under jemalloc; they
# keep glibc's malloc bounded and fast where the preload is cleared (LD_PRELOAD=""): at most two
# arenas instead of 8 per core, and a request's buffers from the heap instead of mmap'd and
# unmapped per request (at 131072, until December 2026, that cost about a sixth of the throughput).
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0 MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=33554432 \
    NODE_OPTIONS=--max-semi-space-size=2 LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=background_thread:true
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev && npm cache clean --force
COPY openapi openapi
# The gRPC contract the server loads at start-up (proto/README.md).
COPY proto proto
COPY --from=build /app/dist dist
COPY --from=build /app/resources/models resources/models
# The files stay root-owned and read-only to the service.
USER node
# 8080: HTTP (REST, the page); 8081: gRPC (GRPC_PORT; plaintext HTTP/2 unless GRPC_TLS_* are set).
EXPOSE 8080 8081
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# main.ts drains on SIGTERM (readiness 503, in-flight requests finish) within SHUTDOWN_GRACE_MS
# (10 s by default): give `docker stop` more than that, e.g. `docker stop -t 15`.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
